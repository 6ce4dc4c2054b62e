package bitlocker

import (
	"bytes"
	"crypto/aes"
	"errors"
	"testing"
)

func TestCryptoCCMKnownAnswers(t *testing.T) {
	for _, v := range cryptoVectors(t, "ccm_vectors.txt", 6) {
		name := v[0]
		key, nonce, aad := cryptoHex(t, v[1]), cryptoHex(t, v[2]), cryptoHex(t, v[3])
		plain, sealed := cryptoHex(t, v[4]), cryptoHex(t, v[5])
		tagLen := len(sealed) - len(plain)
		b, err := aes.NewCipher(key)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c, err := newCCM(b, len(nonce), tagLen)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := c.seal(nonce, plain, aad)
		if err != nil {
			t.Fatalf("%s: seal: %v", name, err)
		}
		if !bytes.Equal(got, sealed) {
			t.Errorf("%s: seal = %x, want %x", name, got, sealed)
		}
		opened, err := c.open(nonce, sealed, aad)
		if err != nil {
			t.Fatalf("%s: open: %v", name, err)
		}
		if !bytes.Equal(opened, plain) {
			t.Errorf("%s: open = %x, want %x", name, opened, plain)
		}
		// Any flipped bit in the ciphertext, the tag or the associated
		// data must fail authentication.
		for i := 0; i < len(sealed); i++ {
			bad := bytes.Clone(sealed)
			bad[i] ^= 0x10
			if _, err := c.open(nonce, bad, aad); !errors.Is(err, ErrCCMAuth) {
				t.Fatalf("%s: flipped byte %d: err = %v, want ErrCCMAuth", name, i, err)
			}
		}
		if len(aad) > 0 {
			bad := bytes.Clone(aad)
			bad[len(bad)-1] ^= 1
			if _, err := c.open(nonce, sealed, bad); !errors.Is(err, ErrCCMAuth) {
				t.Errorf("%s: flipped associated data: err = %v, want ErrCCMAuth", name, err)
			}
		}
	}
}

// BitLocker stores the 16-byte MAC before the ciphertext. The IEEE
// P1619.1 vectors use BitLocker's parameters (AES-256, 12-byte nonce,
// 16-byte tag, no associated data), so they pin the layout of ccmWrap and
// ccmUnwrap.
func TestCryptoCCMBitLockerLayout(t *testing.T) {
	key := cryptoHex(t, "fb7615b23d80891dd470980bc79584c8b2fb64ce60978f4d17fce45a49e830b7")
	var nonce [12]byte
	copy(nonce[:], cryptoHex(t, "dbd1a3636024b7b402da7d6f"))
	plain := cryptoHex(t, "a845348ec8c5b5f126f50e76fefd1b1e")
	ct := cryptoHex(t, "cc881261c6a7fa72b96a1739176b277f")
	tag := cryptoHex(t, "3472e1145f2c0cbe146349062cf0e423")
	stored := append(bytes.Clone(tag), ct...)

	if got := ccmWrap(key, nonce, plain); !bytes.Equal(got, stored) {
		t.Fatalf("ccmWrap = %x, want MAC || ciphertext %x", got, stored)
	}
	got, err := ccmUnwrap(key, nonce, stored)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("ccmUnwrap = %x, want %x", got, plain)
	}
	wrongKey := bytes.Clone(key)
	wrongKey[0] ^= 1
	if _, err := ccmUnwrap(wrongKey, nonce, stored); !errors.Is(err, ErrCCMAuth) {
		t.Fatalf("wrong key: err = %v, want ErrCCMAuth", err)
	}
	nonce[11] ^= 1
	if _, err := ccmUnwrap(key, nonce, stored); !errors.Is(err, ErrCCMAuth) {
		t.Fatalf("wrong nonce: err = %v, want ErrCCMAuth", err)
	}
}

func TestCryptoCCMBadInput(t *testing.T) {
	key := make([]byte, 32)
	var nonce [12]byte
	for _, n := range []int{0, 1, 15} {
		if _, err := ccmUnwrap(key, nonce, make([]byte, n)); err == nil || errors.Is(err, ErrCCMAuth) {
			t.Errorf("%d-byte sealed data: err = %v, want a length error", n, err)
		}
	}
	// Only the MAC, no ciphertext: a valid (empty) message when the MAC fits.
	if got, err := ccmUnwrap(key, nonce, ccmWrap(key, nonce, nil)); err != nil || len(got) != 0 {
		t.Errorf("empty message: %x, %v", got, err)
	}
	if _, err := ccmUnwrap(make([]byte, 7), nonce, make([]byte, 40)); err == nil {
		t.Error("7-byte AES key accepted")
	}
	b, _ := aes.NewCipher(key)
	for _, p := range [][2]int{{6, 16}, {14, 16}, {12, 3}, {12, 5}, {12, 18}} {
		if _, err := newCCM(b, p[0], p[1]); err == nil {
			t.Errorf("newCCM(nonce %d, tag %d) accepted", p[0], p[1])
		}
	}
	// A 13-byte nonce leaves a 2-byte length field: 65536 bytes is too long.
	c, err := newCCM(b, 13, 16)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.seal(make([]byte, 13), make([]byte, 1<<16), nil); err == nil {
		t.Error("message longer than the length field accepted")
	}
}

func TestCryptoCCMRoundTripSizes(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, 32)
	var nonce [12]byte
	for n := 0; n <= 100; n++ {
		plain := make([]byte, n)
		for i := range plain {
			plain[i] = byte(i * 7)
		}
		nonce[0] = byte(n)
		s := ccmWrap(key, nonce, plain)
		if len(s) != n+16 {
			t.Fatalf("len %d: sealed %d bytes", n, len(s))
		}
		got, err := ccmUnwrap(key, nonce, s)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("len %d: %x, %v", n, got, err)
		}
	}
}

func FuzzCCMUnwrap(f *testing.F) {
	key := bytes.Repeat([]byte{1}, 32)
	var nonce [12]byte
	f.Add(ccmWrap(key, nonce, []byte("0123456789abcdef0123456789abcdef")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, sealed []byte) {
		plain, err := ccmUnwrap(key, nonce, sealed)
		if err == nil {
			// Only data that ccmWrap produced can authenticate.
			if !bytes.Equal(ccmWrap(key, nonce, plain), sealed) {
				t.Fatalf("unwrap accepted data that wrap does not reproduce")
			}
		}
	})
}
