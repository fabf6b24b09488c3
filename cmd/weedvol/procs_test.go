package main

import "testing"

func TestSchedulerProcs(t *testing.T) {
	for _, tc := range []struct {
		env      string
		def, out int
	}{
		{"", 2, 4},
		{"", 1, 2},
		{"", 16, 32},
		{"3", 3, 0}, // operator's choice stands
	} {
		if got := schedulerProcs(tc.env, tc.def); got != tc.out {
			t.Errorf("schedulerProcs(%q, %d) = %d, want %d", tc.env, tc.def, got, tc.out)
		}
	}
}
