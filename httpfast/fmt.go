package httpfast

import "fmt"

// sprintf is kept off the hot paths; only error replies use it.
func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
