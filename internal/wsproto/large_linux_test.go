package wsproto

const largeOffHeap = true
