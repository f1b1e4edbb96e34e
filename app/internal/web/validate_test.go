package web

import (
	"strings"
	"testing"
)

func TestValidateSchedule(t *testing.T) {
	tests := []struct {
		spec string
		ok   bool
	}{
		{"*/15 * * * *", true},
		{"0 */2 * * 1-5", true},
		{"5,35 * * * *", true},
		{"", false},
		{"0 */15 * * * *", false}, // six fields
		{"* * * *", false},
		{"@hourly", false},
		{"@every 5m", false},
		{"TZ=UTC */5 * * * *", false},
		{"60 * * * *", false},
		{"* 24 * * *", false},
		{"a b c d e", false},
	}
	for _, tt := range tests {
		if err := validateSchedule(tt.spec); (err == nil) != tt.ok {
			t.Errorf("validateSchedule(%q) = %v, want ok %t", tt.spec, err, tt.ok)
		}
	}
}

func TestDeriveIdentifier(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Acme EU", "mimecast-acme-eu"},
		{"  ACME -- eu / prod ", "mimecast-acme-eu-prod"},
		{"Mimecast Acme", "mimecast-acme"},
		{"Société Générale", "mimecast-soci-t-g-n-rale"},
		{"日本", "mimecast"},
		{"x" + strings.Repeat("y", 72), ("mimecast-x" + strings.Repeat("y", 72))[:64]},
		{"a" + strings.Repeat(" ", 54) + "b" + strings.Repeat("c", 20), "mimecast-a-b" + strings.Repeat("c", 20)},
	}
	for _, tt := range tests {
		got := deriveIdentifier(tt.name)
		if got != tt.want {
			t.Errorf("deriveIdentifier(%q) = %q, want %q", tt.name, got, tt.want)
		}
		if len(got) > maxIdentifierLength || !identifierPattern.MatchString(got) {
			t.Errorf("deriveIdentifier(%q) = %q is not a valid identifier", tt.name, got)
		}
	}
}

func TestThemeName(t *testing.T) {
	tests := map[string]string{"dark": "dark", "DARK": "dark", "g100": "dark", "g90": "dark", "light": "light",
		"white": "light", "g10": "light", "": "", "fancy": ""}
	for in, want := range tests {
		if got := themeName(in); got != want {
			t.Errorf("themeName(%q) = %q, want %q", in, got, want)
		}
	}
}
