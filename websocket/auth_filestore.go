package websocket

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// FileUserStore authenticates HTTP Basic credentials against a users file
// (Ballerina's FileUserStoreConfigWithScopes). The file has one user per
// line, "name:bcrypt-hash:scope1,scope2" (the scopes may be empty); blank
// lines and lines starting with # are ignored. Only the hashes are kept:
// a request's password is decoded into a buffer that is cleared after the
// check.
type FileUserStore struct {
	// Scopes, when set, are required: the user must have one of them
	// (else 403).
	Scopes []string

	users map[string]fileUser
	dummy []byte // a hash checked for unknown users, so they take as long
}

type fileUser struct {
	hash   []byte
	scopes []string
}

// NewFileUserStore reads the users file at path.
func NewFileUserStore(path string) (*FileUserStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("websocket: user store: %w", err)
	}
	defer f.Close()
	return ReadFileUserStore(f)
}

// ReadFileUserStore reads a users file (see [FileUserStore]) from r.
func ReadFileUserStore(r io.Reader) (*FileUserStore, error) {
	s := &FileUserStore{users: make(map[string]fileUser)}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
			return nil, fmt.Errorf("websocket: user store line %d: want name:bcrypt-hash[:scopes]", n)
		}
		if _, err := bcrypt.Cost([]byte(parts[1])); err != nil {
			return nil, fmt.Errorf("websocket: user store line %d: %w", n, err)
		}
		u := fileUser{hash: []byte(parts[1])}
		if len(parts) == 3 {
			for sc := range strings.SplitSeq(parts[2], ",") {
				if sc = strings.TrimSpace(sc); sc != "" {
					u.scopes = append(u.scopes, sc)
				}
			}
		}
		s.users[parts[0]] = u
		if s.dummy == nil {
			s.dummy = u.hash
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("websocket: user store: %w", err)
	}
	return s, nil
}

// Authenticate checks r's Basic credentials.
func (s *FileUserStore) Authenticate(_ context.Context, r *http.Request) (*Principal, error) {
	scheme, enc, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return nil, errNoCredentials
	}
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	defer clear(buf)
	n, err := base64.StdEncoding.Decode(buf, []byte(strings.TrimSpace(enc)))
	if err != nil {
		return nil, errors.New("websocket: malformed Basic credentials")
	}
	name, pw, ok := bytes.Cut(buf[:n], []byte{':'})
	if !ok {
		return nil, errors.New("websocket: malformed Basic credentials")
	}
	u, known := s.users[string(name)]
	hash := u.hash
	if !known {
		hash = s.dummy
	}
	if hash == nil || bcrypt.CompareHashAndPassword(hash, pw) != nil || !known {
		return nil, errors.New("websocket: invalid user name or password")
	}
	return checkScopes(&Principal{Name: string(name), Scopes: u.scopes}, s.Scopes)
}
