package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// deadlinePeers answers every fetch from its table and records the
// deadline each call ran under.
type deadlinePeers struct {
	deadlines []time.Time
	answer    func(shard int) (deleted bool, err error)
}

func (d *deadlinePeers) FetchEcShard(ctx context.Context, _ uint32, _ string, shard int, _ int64, p []byte, _ uint64) (int, bool, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		return 0, false, errors.New("fetch without a deadline")
	}
	d.deadlines = append(d.deadlines, dl)
	del, err := d.answer(shard)
	if del || err != nil {
		return 0, del, err
	}
	return len(p), false, nil
}

func (d *deadlinePeers) DeleteEcBlob(context.Context, uint32, string, uint64, uint32, int) error {
	return nil
}

// TestEcFetchBudget: the fetches of one read share one deadline, set by
// the first of them ecRemoteBudget ahead (an earlier one of the caller's
// stands); failures are noted per shard and a deleted answer is kept.
func TestEcFetchBudget(t *testing.T) {
	p := &deadlinePeers{answer: func(shard int) (bool, error) {
		switch shard {
		case 3:
			return false, errors.New("no holder")
		case 4:
			return true, nil
		}
		return false, nil
	}}
	failed := &shardSet{}
	f := &ecFetch{peers: p, ev: &ecVol{id: 7}, key: 1, failed: failed}
	before := time.Now()
	buf := make([]byte, 16)
	if n, err := f.fetch(context.Background(), 1, 0, buf); err != nil || n != 16 {
		t.Fatalf("fetch of shard 1: %d, %v", n, err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := f.fetch(context.Background(), 3, 0, buf); err == nil {
		t.Fatal("a failed fetch succeeded")
	}
	if len(p.deadlines) != 2 || !p.deadlines[0].Equal(p.deadlines[1]) {
		t.Fatalf("deadlines %v: want one, shared", p.deadlines)
	}
	if dl := p.deadlines[0]; dl.Before(before.Add(ecRemoteBudget)) || dl.After(time.Now().Add(ecRemoteBudget)) {
		t.Fatalf("deadline %v is not the budget ahead of the first fetch (%v)", dl, before)
	}
	early := time.Now().Add(time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), early)
	defer cancel()
	if _, err := f.fetch(ctx, 2, 0, buf); err != nil || !p.deadlines[2].Equal(early) {
		t.Fatalf("with the caller's earlier deadline: %v, ran under %v", err, p.deadlines[2])
	}
	if !failed.ids[3] || len(failed.ids) != 1 {
		t.Fatalf("failed shards %v, want just 3", failed.ids)
	}
	if f.wasDeleted() {
		t.Fatal("deleted before any holder said so")
	}
	if _, err := f.fetch(context.Background(), 4, 0, buf); !errors.Is(err, ErrDeleted) || !f.wasDeleted() {
		t.Fatalf("a holder's deleted answer: %v, deleted %v", err, f.wasDeleted())
	}
	none := &ecFetch{ev: &ecVol{id: 7}, failed: failed}
	if _, err := none.fetch(context.Background(), 5, 0, buf); !errors.Is(err, errNoPeers) || !failed.ids[5] {
		t.Fatalf("without peers: %v", err)
	}
}
