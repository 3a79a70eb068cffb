package mirror_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test, in or out of a synctest bubble, must leave no goroutine
// behind once its servers and clients are closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
