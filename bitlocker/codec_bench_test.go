package bitlocker

import (
	"crypto/aes"
	"testing"

	"golang.org/x/crypto/xts"
)

// Throughput benchmarks on 1 MiB buffers of 512-byte sectors (BitLocker's
// usual sector size), one goroutine. Run with
//
//	go test ./bitlocker -run '^$' -bench 'Decrypt|Encrypt|Stretch'

const cryptoBenchBuf = 1 << 20

func cryptoBenchCodec(b *testing.B, m Method, sectorSize int, encrypt bool) {
	key := make([]byte, m.KeyMaterialSize())
	for i := range key {
		key[i] = byte(i * 13)
	}
	c, err := newSectorCodec(m, key, sectorSize)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, cryptoBenchBuf)
	b.SetBytes(cryptoBenchBuf)
	b.ReportAllocs()
	for b.Loop() {
		if encrypt {
			c.encryptSectors(buf, buf, 1<<30)
		} else {
			c.decryptSectors(buf, buf, 1<<30)
		}
	}
}

func BenchmarkXTS128Decrypt(b *testing.B)      { cryptoBenchCodec(b, MethodXTS128, 512, false) }
func BenchmarkXTS256Decrypt(b *testing.B)      { cryptoBenchCodec(b, MethodXTS256, 512, false) }
func BenchmarkXTS128Decrypt4K(b *testing.B)    { cryptoBenchCodec(b, MethodXTS128, 4096, false) }
func BenchmarkXTS128Encrypt(b *testing.B)      { cryptoBenchCodec(b, MethodXTS128, 512, true) }
func BenchmarkCBCDiffuserDecrypt(b *testing.B) { cryptoBenchCodec(b, MethodAES128Diffuser, 512, false) }
func BenchmarkCBCDiffuserEncrypt(b *testing.B) { cryptoBenchCodec(b, MethodAES128Diffuser, 512, true) }
func BenchmarkCBCDecrypt(b *testing.B)         { cryptoBenchCodec(b, MethodAES128CBC, 512, false) }
func BenchmarkCBCEncrypt(b *testing.B)         { cryptoBenchCodec(b, MethodAES128CBC, 512, true) }

// The same work with golang.org/x/crypto/xts, for comparison.
func cryptoBenchXCrypto(b *testing.B, keyLen int) {
	key := make([]byte, keyLen)
	for i := range key {
		key[i] = byte(i * 13)
	}
	c, err := xts.NewCipher(aes.NewCipher, key)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, cryptoBenchBuf)
	b.SetBytes(cryptoBenchBuf)
	b.ReportAllocs()
	for b.Loop() {
		for s := 0; s < cryptoBenchBuf; s += 512 {
			c.Decrypt(buf[s:s+512], buf[s:s+512], uint64(s/512))
		}
	}
}

func BenchmarkXCryptoXTS128Decrypt(b *testing.B) { cryptoBenchXCrypto(b, 32) }
func BenchmarkXCryptoXTS256Decrypt(b *testing.B) { cryptoBenchXCrypto(b, 64) }
