package redis

import "bytes"

// slots is the number of hash slots of a Redis Cluster.
const slots = 16384

// crc16tab is the CRC16-CCITT (XMODEM) table Redis Cluster uses.
var crc16tab = func() [256]uint16 {
	var t [256]uint16
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// crc16tab2 advances the CRC by a second byte: a CRC is linear, so two
// bytes take two lookups that do not wait on each other.
var crc16tab2 = func() [256]uint16 {
	var t [256]uint16
	for i := range t {
		c := crc16tab[i]
		t[i] = c<<8 ^ crc16tab[c>>8]
	}
	return t
}()

func crc16(b []byte) uint16 {
	var crc uint16
	for len(b) >= 2 {
		crc = crc16tab2[byte(crc>>8)^b[0]] ^ crc16tab[byte(crc)^b[1]]
		b = b[2:]
	}
	for _, c := range b {
		crc = crc<<8 ^ crc16tab[byte(crc>>8)^c]
	}
	return crc
}

// keySlot returns the cluster slot of key, honouring {hash tags}, as
// CLUSTER KEYSLOT does.
func keySlot(key []byte) int {
	if i := bytes.IndexByte(key, '{'); i >= 0 {
		if j := bytes.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) & (slots - 1))
}
