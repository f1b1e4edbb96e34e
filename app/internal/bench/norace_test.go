//go:build !race

package bench

// raceEnabled is set when the tests run under the race detector, which
// slows the collector about twentyfold.
const raceEnabled = false
