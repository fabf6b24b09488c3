package grpcsvc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/grpcsvc/jsonq"
)

// Query evaluates a filter and a projection over the JSON needles named by
// req.FromFileIds, as upstream's volume server does, fid by fid:
//
//   - a fid without a comma fails with "Wrong fid format."; a volume id
//     that does not parse is read as upstream reads it (strconv.ParseUint
//     truncated to 32 bits: 0 on a syntax error);
//   - the needle is read whatever its cookie; a missing volume, needle or a
//     deleted needle fails the stream with upstream's text; then a cookie
//     mismatch ends the stream without an error (later fids are skipped);
//   - CSV input sends nothing; JSON input sends one QueriedStripe per fid,
//     its Records empty when nothing matches (jsonq.Records: upstream's
//     record format). Compressed needles are queried as stored, and the
//     output serialization is ignored, as upstream.
//
// Where upstream panics (no input serialization, or no filter with JSON
// input) the stream fails with InvalidArgument, at the same point. A
// filter field or selection using gjson syntax beyond jsonq's plain paths
// fails with Unimplemented when it would be evaluated.
func (s *Service) Query(req *volume_server_pb.QueryRequest, stream volume_server_pb.VolumeServer_QueryServer) error {
	var buf []byte // owned by this call: the record of the needle being queried
	for _, fid := range req.GetFromFileIds() {
		comma := strings.IndexByte(fid, ',')
		if comma <= 0 {
			return errors.New("Wrong fid format.")
		}
		// upstream ignores the parse error and truncates to its 32-bit id
		v64, _ := strconv.ParseUint(fid[:comma], 10, 64)
		vid := uint32(v64)
		keyCookie := fid[comma+1:]
		if err := needle.UpstreamFidError(keyCookie); err != nil {
			return err
		}
		key, cookie, err := needle.ParseKeyCookie([]byte(keyCookie))
		if err != nil {
			return err // UpstreamFidError accepted it: not expected
		}
		v, ok := s.store.Volume(vid)
		if !ok {
			return fmt.Errorf("volume %d not found", vid)
		}
		var n needle.Needle
		buf, err = v.Read(&n, key, cookie, buf, engine.ReadOptions{AnyCookie: true})
		if err != nil {
			return err
		}
		if n.Cookie != cookie {
			return nil
		}
		in := req.GetInputSerialization()
		if in == nil {
			return status.Error(codes.InvalidArgument, "query: input_serialization is required")
		}
		if in.GetJsonInput() == nil {
			continue // CSV input (or none) sends nothing, as upstream
		}
		f := req.GetFilter()
		if f == nil {
			return status.Error(codes.InvalidArgument, "query: filter is required with json input")
		}
		filter := jsonq.Filter{Field: f.GetField(), Op: f.GetOperand(), Value: f.GetValue()}
		if err := jsonq.Check(filter, req.GetSelections()); err != nil {
			return status.Error(codes.Unimplemented, err.Error())
		}
		stripe := &volume_server_pb.QueriedStripe{
			Records: jsonq.Records(nil, string(n.Data), req.GetSelections(), filter),
		}
		if err := stream.Send(stripe); err != nil {
			return err
		}
	}
	return nil
}
