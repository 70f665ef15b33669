// Package zstd registers a Zstandard compressor with gRPC under the name
// "zstd": the agent compresses its stream to the aggregator with it.
//
// A batch is protobuf of repeated point IDs, timestamps and values, which
// Zstandard's fastest level shrinks 5.6× (a 2,000-sample batch of plantsim
// points in zstd_test.go) at ~440 MB/s a core, and decodes at ~500 MB/s
// (go test -bench . ./proto/zstd): a plant's 100,000 samples/s become
// ~1.6 MB/s on the wire instead of ~8.8. Both sides import this package;
// a peer without it answers "Decompressor is not installed for
// grpc-encoding zstd".
package zstd

import (
	"bytes"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"
)

// Name is the grpc-encoding name of the compressor.
const Name = "zstd"

func init() { encoding.RegisterCompressor(&compressor{}) }

// maxWindow bounds the decoder's window, and with it the memory a peer can
// make us spend on one message.
const maxWindow = 8 << 20

// encoderWindow is the encoder's window. Every message is its own frame
// and a batch is ~110 KB (2,000 samples), so a window past the message
// finds nothing more to match. An encoder keeps a history buffer of its
// window plus a block (128 KiB), at least 1 MiB unless it is told to save
// memory: with a 1 MiB window that was 2 MiB an encoder, and the pool held
// two (4 MB of the agent's ~44 MB heap at 100,000 samples/s); 256 KiB
// with lower memory makes it 384 KiB.
const encoderWindow = 256 << 10

// compressor pools encoders: creating one allocates its tables, several
// hundred kilobytes.
type compressor struct {
	encoders sync.Pool // *writer
}

func (c *compressor) Name() string { return Name }

type writer struct {
	*zstd.Encoder
	pool *sync.Pool
}

// Close finishes the frame and returns the encoder to the pool.
func (w *writer) Close() error {
	err := w.Encoder.Close()
	w.pool.Put(w)
	return err
}

func (c *compressor) Compress(w io.Writer) (io.WriteCloser, error) {
	if z, ok := c.encoders.Get().(*writer); ok {
		z.Reset(w)
		return z, nil
	}
	enc, err := zstd.NewWriter(w,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(encoderWindow),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	return &writer{Encoder: enc, pool: &c.encoders}, nil
}

// Decompress reads the whole compressed message and decodes it in one
// call. A streaming decoder allocates its history window (~1.5 MB) on every
// reset, which at a few hundred messages a second was most of the
// aggregator's garbage; DecodeAll on one shared decoder allocates only the
// output.
func (c *compressor) Decompress(rd io.Reader) (io.Reader, error) {
	src, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	out, err := decoder().DecodeAll(src, nil)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(out), nil
}

// maxMessage bounds what one message may decompress to, so that a small
// message cannot make the aggregator allocate without limit; it is the
// aggregator's default server.max_message_bytes.
const maxMessage = 64 << 20

var decoder = sync.OnceValue(func() *zstd.Decoder {
	// DecodeAll may be called by many streams at once; a nil reader makes
	// a decoder for that use only.
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithDecoderMaxWindow(maxWindow),
		zstd.WithDecoderMaxMemory(maxMessage))
	if err != nil {
		panic(err) // only for invalid options
	}
	return d
})
