package httpfast

import "bytes"

// fidPath is a parsed request path. All fields alias the path bytes.
type fidPath struct {
	vid, fid, filename, ext []byte
	volumeOnly              bool
}

// parseFidPath splits the path shapes upstream accepts:
//
//	/<vid>/<fid>/<filename>   filename (and its extension) given
//	/<vid>/<fid>[.ext]        extension given
//	/<vid>,<fid>[.ext]        the usual form; any prefix before the last '/' is ignored
//	/<vid>                    volume only
func parseFidPath(path []byte) fidPath {
	var p fidPath
	switch bytes.Count(path, slash) {
	case 3:
		parts := bytes.SplitN(path[1:], slash, 3)
		p.vid, p.fid, p.filename = parts[0], parts[1], parts[2]
		p.ext = extOf(p.filename)
	case 2:
		i := bytes.IndexByte(path[1:], '/') + 1
		p.vid, p.fid = path[1:i], path[i+1:]
		if dot := bytes.LastIndexByte(p.fid, '.'); dot > 0 {
			p.ext = p.fid[dot:]
			p.fid = p.fid[:dot]
		}
	default:
		sep := bytes.LastIndexByte(path, '/')
		tail := path[sep:]
		comma := bytes.LastIndexByte(tail, ',')
		if comma <= 0 {
			p.vid, p.volumeOnly = path[sep+1:], true
			return p
		}
		dot := bytes.LastIndexByte(tail, '.')
		p.vid = tail[1:comma]
		p.fid = tail[comma+1:]
		if dot > 0 && dot > comma {
			p.fid = tail[comma+1 : dot]
			p.ext = tail[dot:]
		} else if dot > 0 {
			// upstream slices fid by the dot even before the comma; such a
			// path has an empty or inverted fid and fails to parse
			p.fid = nil
		}
	}
	return p
}

var slash = []byte{'/'}

// extOf is filepath.Ext for a slash-free name.
func extOf(name []byte) []byte {
	for i := len(name) - 1; i >= 0 && name[i] != '/'; i-- {
		if name[i] == '.' {
			return name[i:]
		}
	}
	return nil
}
