package grpcsvc

import "github.com/weedvol/weedvol/engine"

// tierBackend returns the remote tier backend the master announced as name
// ("type.id").
func (s *Service) tierBackend(name string) (engine.RemoteDat, bool) {
	return nil, false
}

// tierBackendNames lists the announced tier backends.
func (s *Service) tierBackendNames() []string { return sortedNames(nil) }
