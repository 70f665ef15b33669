package windows

import (
	"bytes"
	"encoding/binary"
)

// bcryptPrimitivesStub is a DLL for Wine 8 (Debian 12), which lacks
// bcryptprimitives.dll: the Go runtime (1.22 and later) loads it at start
// for ProcessPrng, and Windows 10 and later all have it. The stub holds no
// code: its one export forwards to advapi32's SystemFunction036
// (RtlGenRandom), whose arguments and BOOLEAN result line up with
// ProcessPrng's on amd64. It goes only into a test's own Wine prefix.
func bcryptPrimitivesStub() []byte {
	const (
		fileAlign = 0x200
		sectRVA   = 0x1000
		dirSize   = 40
	)
	// The export section: directory, address/name/ordinal tables, strings.
	var sect bytes.Buffer
	le := func(v any) { binary.Write(&sect, binary.LittleEndian, v) }
	names := []string{"bcryptprimitives.dll", "ProcessPrng", "advapi32.SystemFunction036"}
	eat := uint32(sectRVA + dirSize)
	enpt := eat + 4
	eot := enpt + 4
	str := eot + 2
	nameRVA := []uint32{str}
	for _, n := range names[:len(names)-1] {
		nameRVA = append(nameRVA, nameRVA[len(nameRVA)-1]+uint32(len(n))+1)
	}
	le([]uint32{0, 0, 0, nameRVA[0], 1, 1, 1, eat, enpt, eot}) // directory (the two version words are the third uint32)
	le(nameRVA[2])                                             // function 1 forwards: its RVA points inside the directory
	le(nameRVA[1])
	le(uint16(0))
	for _, n := range names {
		sect.WriteString(n)
		sect.WriteByte(0)
	}
	exportSize := uint32(sect.Len())
	sect.Write(make([]byte, fileAlign-sect.Len()))

	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	dos := make([]byte, 0x40)
	copy(dos, "MZ")
	binary.LittleEndian.PutUint32(dos[0x3c:], 0x40)
	b.Write(dos)
	b.WriteString("PE\x00\x00")
	w([]uint16{0x8664, 1})       // machine amd64, one section
	w([]uint32{0, 0, 0})         // time stamp, symbols
	w([]uint16{240, 0x2022})     // optional header size; executable, large-address-aware DLL
	w([]uint16{0x20b})           // PE32+
	w([]uint8{14, 0})            // linker version
	w([]uint32{0, fileAlign, 0}) // code, initialised and uninitialised data sizes
	w([]uint32{0, sectRVA})      // no entry point, base of code
	w(uint64(0x180000000))       // image base
	w([]uint32{0x1000, fileAlign})
	w([]uint16{6, 0, 0, 0, 6, 0}) // OS, image and subsystem versions
	w([]uint32{0, sectRVA + 0x1000, fileAlign, 0})
	w([]uint16{3, 0})                               // console subsystem, no DLL characteristics
	w([]uint64{0x100000, 0x1000, 0x100000, 0x1000}) // stack and heap
	w([]uint32{0, 16})                              // loader flags, data directories
	w([]uint32{sectRVA, exportSize})                // export directory
	b.Write(make([]byte, 15*8))                     // the other fifteen
	b.WriteString(".edata\x00\x00")                 // section header
	w([]uint32{fileAlign, sectRVA, fileAlign, fileAlign, 0, 0})
	w([]uint16{0, 0})
	w(uint32(0x40000040)) // initialised data, readable
	b.Write(make([]byte, fileAlign-b.Len()))
	b.Write(sect.Bytes())
	return b.Bytes()
}
