package grpcsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/wlog"
)

// RequestIDKey is upstream's request id metadata key (weed/util/request_id),
// the same name as the HTTP header.
const RequestIDKey = "x-amz-request-id"

// requestIDOptions are upstream's request id interceptor
// (weed/pb/grpc_client_server.go): a call keeps the caller's
// x-amz-request-id or gets a random UUID, passes it on to the calls its
// handler makes and answers it in the trailer. weedvol adds one ERROR line
// with that id for each Internal or Unknown answer (a handler's plain
// error is Unknown); other codes are the caller's mistake and log nothing.
func requestIDOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			id := incomingRequestID(ctx)
			ctx = metadata.AppendToOutgoingContext(ctx, RequestIDKey, id)
			_ = grpc.SetTrailer(ctx, metadata.Pairs(RequestIDKey, id))
			resp, err := handler(ctx, req)
			logErrorAnswer(id, info.FullMethod, err)
			return resp, err
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			id := incomingRequestID(ss.Context())
			ss.SetTrailer(metadata.Pairs(RequestIDKey, id))
			err := handler(srv, &idStream{ss, metadata.AppendToOutgoingContext(ss.Context(), RequestIDKey, id)})
			logErrorAnswer(id, info.FullMethod, err)
			return err
		}),
	}
}

// idStream gives a streaming handler the context carrying the request id.
type idStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *idStream) Context() context.Context { return s.ctx }

func incomingRequestID(ctx context.Context) string {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if ids := md.Get(RequestIDKey); len(ids) > 0 && ids[0] != "" {
			return ids[0]
		}
	}
	return newUUID()
}

// newUUID is a random (version 4) UUID in its usual text form, as
// upstream's uuid.New().String().
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

func logErrorAnswer(id, method string, err error) {
	if err == nil {
		return
	}
	if c := status.Code(err); c == codes.Internal || c == codes.Unknown {
		wlog.Errorf("request_id:%s grpc %s: %v", id, method, err)
	}
}
