package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/protobuf/proto"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/nodestate"
)

// statePersister loads and saves the node's VolumeServerState where
// upstream keeps it: file engine.ServerStateFile of the first location's
// index directory.
type statePersister struct {
	dir string
	mu  sync.Mutex // serializes SetState's compare, update and save
}

func (p *statePersister) path() string { return filepath.Join(p.dir, engine.ServerStateFile) }

func (p *statePersister) load(st *nodestate.State) error {
	b, err := engine.ReadDirState(p.dir, engine.ServerStateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to read store state from %s : %v", p.path(), err)
	}
	loaded := &volume_server_pb.VolumeServerState{}
	if err := proto.Unmarshal(b, loaded); err != nil {
		return fmt.Errorf("failed to parse store state from %s : %v", p.path(), err)
	}
	st.UpdateServerState(func(s *volume_server_pb.VolumeServerState) bool {
		proto.Reset(s)
		proto.Merge(s, loaded)
		return true
	})
	return nil
}

func (p *statePersister) save(s *volume_server_pb.VolumeServerState) error {
	b, err := proto.Marshal(s)
	if err != nil {
		return fmt.Errorf("failed to serialize store state %v: %s", s, err)
	}
	if err := engine.WriteDirState(p.dir, engine.ServerStateFile, b); err != nil {
		return fmt.Errorf("failed to write store state to %s : %v", p.path(), err)
	}
	return nil
}

// GetState returns the maintenance state.
func (s *Service) GetState(ctx context.Context, req *volume_server_pb.GetStateRequest) (*volume_server_pb.GetStateResponse, error) {
	return &volume_server_pb.GetStateResponse{State: s.state.ServerState()}, nil
}

// SetState replaces the maintenance state when req's version matches the
// current one, bumping the version. A nil state changes nothing.
func (s *Service) SetState(ctx context.Context, req *volume_server_pb.SetStateRequest) (*volume_server_pb.SetStateResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	err := s.updateState(req.GetState())
	return &volume_server_pb.SetStateResponse{State: s.state.ServerState()}, err
}

func (s *Service) updateState(want *volume_server_pb.VolumeServerState) error {
	if want == nil {
		return nil
	}
	if s.states != nil {
		s.states.mu.Lock()
		defer s.states.mu.Unlock()
	}
	var mismatch error
	var prev *volume_server_pb.VolumeServerState
	next := s.state.UpdateServerState(func(cur *volume_server_pb.VolumeServerState) bool {
		if got := cur.GetVersion(); got != want.GetVersion() {
			mismatch = fmt.Errorf("version mismatch for VolumeServerState (got %d, want %d)", got, want.GetVersion())
			return false
		}
		prev = proto.Clone(cur).(*volume_server_pb.VolumeServerState)
		proto.Reset(cur)
		proto.Merge(cur, want)
		cur.Version = want.GetVersion() + 1
		return true
	})
	if mismatch != nil {
		return mismatch
	}
	if s.states != nil {
		if err := s.states.save(next); err != nil {
			// Keep memory and disk in step, as upstream does.
			s.state.UpdateServerState(func(cur *volume_server_pb.VolumeServerState) bool {
				proto.Reset(cur)
				proto.Merge(cur, prev)
				return true
			})
			return err
		}
	}
	s.hb.notifyState(next)
	return nil
}
