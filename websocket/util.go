package websocket

import (
	"strconv"
	"time"
)

type timeT = time.Time

func itoa(i int) string { return strconv.Itoa(i) }
