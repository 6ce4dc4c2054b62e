package bitlocker

import "sync"

// codecScratch holds the small buffers a codec call needs. Buffers passed
// to cipher.Block methods escape to the heap (interface calls), so the
// codecs take them from a pool instead of allocating per sector; a call
// then allocates nothing in the steady state, and concurrent calls never
// share a buffer.
type codecScratch struct {
	block [16]byte                  // tweak, IV
	key   [32]byte                  // Elephant sector key
	tw    [xtsBatchBlocks * 16]byte // XTS tweaks of one batch
}

var scratchPool = sync.Pool{New: func() any { return new(codecScratch) }}

func getScratch() *codecScratch { return scratchPool.Get().(*codecScratch) }

func putScratch(s *codecScratch) {
	// Tweaks and sector keys are derived from secret keys: do not leave
	// them lying around in pooled memory.
	clear(s.block[:])
	clear(s.key[:])
	clear(s.tw[:])
	scratchPool.Put(s)
}
