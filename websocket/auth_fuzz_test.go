package websocket_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/netkit-go/netkit/websocket"
)

// FuzzFileUserStore: any users file parses or fails cleanly; a store that
// parsed refuses arbitrary Basic credentials without panicking.
func FuzzFileUserStore(f *testing.F) {
	f.Add("# c\nalice:$2a$04$C1jw3ICVd5JyHNRRXx8X9.1LHxtUnCqvGW7.6iZbWjbdlB/wALXx6:read,write\n", "Basic YWxpY2U6eA==")
	f.Add("bob:plain\n", "Basic !!")
	f.Add("a:b:c:d", "Bearer x")
	f.Add("", "Basic Ym9i")
	f.Fuzz(func(t *testing.T, file, authz string) {
		s, err := websocket.ReadFileUserStore(strings.NewReader(file))
		if err != nil {
			return
		}
		r := &http.Request{Header: http.Header{"Authorization": {authz}}}
		if p, err := s.Authenticate(t.Context(), r); err == nil && p == nil {
			t.Fatal("no error and no principal")
		}
	})
}
