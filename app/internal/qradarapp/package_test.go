package qradarapp

import (
	"archive/zip"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackage_ZipLayout runs build.sh the way a release is built and checks
// the zip QRadar receives. It compiles a static cgo binary, so it is skipped
// in -short runs.
func TestPackage_ZipLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary; skipped with -short")
	}
	dist := t.TempDir()
	cmd := exec.Command("bash", "build.sh", "package")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "DIST_DIR="+dist)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh package: %v\n%s", err, out)
	}
	zips, _ := filepath.Glob(filepath.Join(dist, "mimecast-qradar-*.zip"))
	if len(zips) != 1 {
		t.Fatalf("dist holds %v, want one mimecast-qradar-<version>.zip", zips)
	}
	zr, err := zip.OpenReader(zips[0])
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()

	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
		switch {
		case strings.HasSuffix(f.Name, ".go"), strings.HasSuffix(f.Name, "_test.go"), strings.Contains(f.Name, "testdata/"):
			t.Errorf("zip ships source or test data: %s", f.Name)
		case strings.HasPrefix(f.Name, "store/"), strings.HasSuffix(f.Name, ".db"), strings.HasSuffix(f.Name, "seal.key"):
			t.Errorf("zip ships state: %s", f.Name)
		case strings.HasPrefix(f.Name, "bin/"), strings.HasPrefix(f.Name, "startup.d/"):
			t.Errorf("zip ships a path that collides with the framework's sacrosanct files: %s", f.Name)
		}
	}
	for _, want := range []string{"manifest.json", "app/templates/", "app/static/", "container/build/ordering.txt",
		"container/run/ordering.txt", "container/service/mimecast-qradar"} {
		if files[want] == nil {
			t.Errorf("zip lacks %s", want)
		}
	}
	m, err := files["manifest.json"].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var buf strings.Builder
	if _, err := io.Copy(&buf, m); err != nil {
		t.Fatal(err)
	}
	if err := ValidateManifest([]byte(buf.String())); err != nil {
		t.Errorf("packaged manifest: %v", err)
	}

	bin := files["container/service/mimecast-qradar"]
	if bin == nil {
		t.FailNow()
	}
	if bin.Mode()&0o111 == 0 {
		t.Errorf("binary mode %v is not executable", bin.Mode())
	}
	// Every ordering.txt line must name a script the zip ships.
	for _, dir := range []string{"build", "run"} {
		o := files["container/"+dir+"/ordering.txt"]
		if o == nil {
			continue
		}
		rc, _ := o.Open()
		var lines strings.Builder
		io.Copy(&lines, rc)
		rc.Close()
		for _, line := range strings.Split(strings.TrimSpace(lines.String()), "\n") {
			rel := strings.TrimPrefix(strings.Fields(line)[0], "/opt/app-root/")
			if f := files[rel]; f == nil || f.Mode()&0o111 == 0 {
				t.Errorf("container/%s/ordering.txt runs %s, which the zip lacks or cannot execute", dir, line)
			}
		}
	}
	checkStatic(t, bin)
}

func checkStatic(t *testing.T, f *zip.File) {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "bin")
	out, _ := os.Create(tmp)
	io.Copy(out, rc)
	out.Close()
	rc.Close()
	ef, err := elf.Open(tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	if ef.Machine != elf.EM_X86_64 {
		t.Errorf("binary machine = %v, want x86-64", ef.Machine)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary requests a program interpreter: it is dynamically linked and would need the build machine's glibc on QRadar")
		}
	}
	if libs, _ := ef.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
}
