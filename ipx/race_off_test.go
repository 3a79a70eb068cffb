//go:build !race

package ipx_test

const raceEnabled = false
