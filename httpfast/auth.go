package httpfast

import (
	"bytes"
	"errors"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
)

// fileIDClaims is the token upstream's master signs for one file id.
type fileIDClaims struct {
	Fid string `json:"fid"`
	jwt.RegisteredClaims
}

var errWrongJWT = errors.New("wrong jwt")

// authorized checks the request's JWT against the write or read signing
// key, as upstream: no key configured means no check; the token comes from
// the "jwt" query parameter, else an "Authorization: Bearer" header, else
// the "AT" cookie; it must be HMAC-signed, unexpired, and name this file id
// (a "_delta" suffix of the fid is ignored).
func (s *Server) authorized(ctx *fasthttp.RequestCtx, p fidPath, write bool) bool {
	keys := s.keys.Load()
	key := keys.read
	if write {
		key = keys.write
	}
	if len(key) == 0 {
		return true
	}
	token := requestToken(ctx)
	if len(token) == 0 {
		return false
	}
	var claims fileIDClaims
	parsed, err := jwt.ParseWithClaims(string(token), &claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, errors.New("unknown token method")
		}
		return key, nil
	})
	if err != nil || !parsed.Valid {
		return false
	}
	fid := p.fid
	if i := bytes.LastIndexByte(fid, '_'); i > 0 {
		fid = fid[:i]
	}
	want := make([]byte, 0, len(p.vid)+1+len(fid))
	want = append(append(append(want, p.vid...), ','), fid...)
	return claims.Fid == string(want)
}

func requestToken(ctx *fasthttp.RequestCtx) []byte {
	if t := ctx.QueryArgs().Peek("jwt"); len(t) > 0 {
		return t
	}
	if b := ctx.Request.Header.Peek("Authorization"); len(b) > 7 && bytes.EqualFold(b[:6], []byte("bearer")) {
		return b[7:]
	}
	return ctx.Request.Header.Cookie("AT")
}

// signingKeys are the JWT keys in force; SetSigningKeys replaces them.
type signingKeys struct{ write, read []byte }

// SetSigningKeys replaces the JWT signing keys (a security.toml reload);
// requests in flight finish with the keys they started with.
func (s *Server) SetSigningKeys(write, read []byte) {
	s.keys.Store(&signingKeys{write: append([]byte(nil), write...), read: append([]byte(nil), read...)})
}
