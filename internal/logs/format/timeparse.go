package format

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm), for years from 1 on.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// num parses the n digits of b at i.
func num(b []byte, i, n int) (int64, bool) {
	if i+n > len(b) {
		return 0, false
	}
	var v int64
	for _, c := range b[i : i+n] {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// month returns 1..12 for "Jan".."Dec", or 0.
func month(b []byte) int64 {
	if len(b) < 3 {
		return 0
	}
	switch string(b[:3]) {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

// unix returns the unix time of a civil date and time at UTC offset off
// seconds, checking the ranges.
func unix(y, mo, d, h, mi, s, off int64) (int64, bool) {
	if y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return 0, false
	}
	return daysFromCivil(y, mo, d)*86400 + h*3600 + mi*60 + s - off, true
}

// parseTimeLocal parses nginx's $time_local and Apache's %t without
// brackets: "10/Oct/2021:13:55:36 +0900".
func parseTimeLocal(b []byte) (int64, bool) {
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return 0, false
	}
	d, ok1 := num(b, 0, 2)
	mo := month(b[3:6])
	y, ok2 := num(b, 7, 4)
	h, ok3 := num(b, 12, 2)
	mi, ok4 := num(b, 15, 2)
	s, ok5 := num(b, 18, 2)
	off, ok6 := zone(b[21:], false)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, false
	}
	return unix(y, mo, d, h, mi, s, off)
}

// zone parses "+0900", "-07:00" (colon when colon is set) or "Z" into
// seconds east of UTC.
func zone(b []byte, colon bool) (int64, bool) {
	if len(b) == 1 && b[0] == 'Z' {
		return 0, true
	}
	n := 5
	if colon {
		n = 6
	}
	if len(b) != n || b[0] != '+' && b[0] != '-' || colon && b[3] != ':' {
		return 0, false
	}
	h, ok1 := num(b, 1, 2)
	m, ok2 := num(b, n-2, 2)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if b[0] == '-' {
		off = -off
	}
	return off, true
}

// parseTimeISO parses nginx's $time_iso8601, "2021-10-10T13:55:36+09:00",
// also with a fraction of a second or "Z".
func parseTimeISO(b []byte) (int64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	y, ok1 := num(b, 0, 4)
	mo, ok2 := num(b, 5, 2)
	d, ok3 := num(b, 8, 2)
	h, ok4 := num(b, 11, 2)
	mi, ok5 := num(b, 14, 2)
	s, ok6 := num(b, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, false
	}
	rest := b[19:]
	if rest[0] == '.' {
		i := 1
		for i < len(rest) && isDigit(rest[i]) {
			i++
		}
		if i == 1 {
			return 0, false
		}
		rest = rest[i:]
	}
	off, ok := zone(rest, len(rest) != 5)
	if !ok {
		return 0, false
	}
	return unix(y, mo, d, h, mi, s, off)
}
