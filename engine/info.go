package engine

import (
	"google.golang.org/protobuf/proto"

	"github.com/weedvol/weedvol/engine/vif"
)

func cloneInfo(i *vif.Info) *vif.Info { return proto.Clone(i).(*vif.Info) }
