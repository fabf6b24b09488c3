package ec

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestInterruptedLeavesNothing stops Encode and Rebuild midway (a cancelled
// context, or an injected error after chunk k) and checks that no final
// shard, .ecx, .ecsum or temporary file is left behind.
func TestInterruptedLeavesNothing(t *testing.T) {
	errInjected := errors.New("injected")
	for _, mode := range []string{"cancel", "error"} {
		for _, after := range []int{0, 3} {
			t.Run(mode, func(t *testing.T) {
				dir := t.TempDir()
				v := genVolume(t, dir, "v", 9<<20, 4, 51)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				encodeHook = func(seq int) error {
					if seq < after {
						return nil
					}
					if mode == "cancel" {
						cancel()
						return nil
					}
					return errInjected
				}
				defer func() { encodeHook = nil }()
				out := filepath.Join(dir, "e")
				_, err := Encode(ctx, v.base+".dat", v.base+".idx", out, out, 4, EncodeOptions{BufferSize: 256 << 10})
				if err == nil {
					t.Fatal("encode finished")
				}
				if mode == "error" && !errors.Is(err, errInjected) || mode == "cancel" && !errors.Is(err, context.Canceled) {
					t.Fatalf("error %v", err)
				}
				if left, _ := filepath.Glob(out + "*"); len(left) != 0 {
					t.Fatalf("encode left %v", left)
				}

				// A complete encode to rebuild from.
				encodeHook = nil
				res := encodeTest(t, v, 10, 4)
				ctx2, cancel2 := context.WithCancel(context.Background())
				defer cancel2()
				encodeHook = func(seq int) error {
					if seq < after {
						return nil
					}
					if mode == "cancel" {
						cancel2()
						return nil
					}
					return errInjected
				}
				rb := filepath.Join(dir, "r")
				err = RebuildWith(ctx2, res.Layout, presentExcept(v.base, 14, 2, 11), []int{2, 11}, rb, RebuildOptions{BufferSize: 64 << 10})
				if err == nil {
					t.Fatal("rebuild finished")
				}
				if left, _ := filepath.Glob(rb + "*"); len(left) != 0 {
					t.Fatalf("rebuild left %v", left)
				}
			})
		}
	}
}
