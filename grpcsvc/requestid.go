package grpcsvc

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
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
	return engine.NewUUID()
}

func logErrorAnswer(id, method string, err error) {
	if err == nil {
		return
	}
	if c := status.Code(err); c == codes.Internal || c == codes.Unknown {
		wlog.Errorf("request_id:%s grpc %s: %v", id, method, err)
	}
}
