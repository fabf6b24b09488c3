package grpcsvc

import "github.com/weedvol/weedvol/engine"

// tierBackend returns the remote tier backend the master announced as name
// ("type.id"); it is also the store's resolver of remote volumes (set in
// New), asked at each remote read.
func (s *Service) tierBackend(name string) (engine.RemoteDat, bool) {
	b, ok := s.backends.Get(name)
	if !ok || b == nil {
		return nil, false // never a nil *S3 inside the interface
	}
	return b, true
}

// tierBackendNames lists the announced tier backends.
func (s *Service) tierBackendNames() []string { return sortedNames(s.backends.Names()) }
