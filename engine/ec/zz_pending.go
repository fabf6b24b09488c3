package ec

import "context"

// Placeholders until the ec-core branch brings these (removed at merge).

// Rebuild regenerates missing shards from present ones.
func Rebuild(ctx context.Context, l Layout, present map[int]string, missing []int, outBase string) error {
	return errNotYet
}

// DecodeDat writes the .dat of a volume from its data shards.
func DecodeDat(ctx context.Context, l Layout, present map[int]string, datPath string) error {
	return errNotYet
}
