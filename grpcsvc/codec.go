package grpcsvc

import (
	"fmt"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// smallMessageLimit caps every request but the two that carry file data
// (WriteNeedleBlob, ReceiveFile): their fields are ids, names, addresses
// and lists of file ids, which upstream's clients keep far below this. A
// larger request is refused before it is decoded (decoding a 100 MB
// collection name once cost ~1.4 GB of memory).
const smallMessageLimit = 8 << 20

// ServerOptions are the gRPC server's request id interceptors
// (requestid.go) and its message limits: requests carrying a
// needle or a file chunk up to maxBlob bytes (-fileSizeLimitMB plus the
// envelope), every other request up to smallMessageLimit, answers up to
// upstream's 1 GiB.
func ServerOptions(maxBlob int) []grpc.ServerOption {
	maxBlob = max(maxBlob, smallMessageLimit) + 1<<20
	return append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxBlob),
		grpc.MaxSendMsgSize(maxMessageSize),
		grpc.ForceServerCodecV2(cappedCodec{encoding.GetCodecV2(proto.Name)}),
	}, requestIDOptions()...)
}

// cappedCodec is the protobuf codec with smallMessageLimit on requests.
type cappedCodec struct{ encoding.CodecV2 }

func (c cappedCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch v.(type) {
	case *volume_server_pb.WriteNeedleBlobRequest, *volume_server_pb.ReceiveFileRequest:
	default:
		if n := data.Len(); n > smallMessageLimit {
			return fmt.Errorf("request of %d bytes is over the %d byte limit of this call", n, smallMessageLimit)
		}
	}
	return c.CodecV2.Unmarshal(data, v)
}
