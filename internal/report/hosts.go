package report

import (
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/metricstore"
)

// hosts fills the host saturation peaks.
func (b *builder) hosts(ctx context.Context, w *Weekly) error {
	byInst := map[string]*Host{}
	host := func(i string) *Host {
		h := byInst[i]
		if h == nil {
			h = &Host{Instance: i}
			byInst[i] = h
		}
		return h
	}
	period := func(from, to time.Time, cur bool) error {
		span := to.Sub(from)
		peaks := func(h *Host) *HostPeaks {
			if cur {
				return &h.Cur
			}
			return &h.Prev
		}
		type peakField struct {
			q      string
			set    func(p *HostPeaks, v float64, at time.Time)
			get    func(p *HostPeaks) (float64, time.Time)
			series func(h *Host, pts []metricstore.Point)
		}
		fields := []peakField{
			{qCPU, func(p *HostPeaks, v float64, at time.Time) { p.CPU, p.CPUAt = v, at },
				func(p *HostPeaks) (float64, time.Time) { return p.CPU, p.CPUAt }, func(h *Host, pts []metricstore.Point) { h.CPU = pts }},
			{qMem, func(p *HostPeaks, v float64, at time.Time) { p.Mem, p.MemAt = v, at },
				func(p *HostPeaks) (float64, time.Time) { return p.Mem, p.MemAt }, func(h *Host, pts []metricstore.Point) { h.Mem = pts }},
			{qNetIn, func(p *HostPeaks, v float64, at time.Time) { p.NetIn, p.NetInAt = v, at },
				func(p *HostPeaks) (float64, time.Time) { return p.NetIn, p.NetInAt }, func(h *Host, pts []metricstore.Point) { h.NetIn = pts }},
			{qNetOut, func(p *HostPeaks, v float64, at time.Time) { p.NetOut, p.NetOutAt = v, at },
				func(p *HostPeaks) (float64, time.Time) { return p.NetOut, p.NetOutAt }, func(h *Host, pts []metricstore.Point) { h.NetOut = pts }},
		}
		for _, f := range fields {
			ss, err := b.series(ctx, b.expr(f.q, HostStep), from.Add(HostStep), to, HostStep)
			if err != nil {
				return err
			}
			for _, s := range ss {
				h := host(s.Labels.Get("instance"))
				p := peaks(h)
				p.Found = true
				for _, pt := range s.Points {
					v, at := f.get(p)
					if peakBetter(pt, v, at) {
						f.set(p, pt.V, time.UnixMilli(pt.T).In(w.Location))
					}
				}
				if cur {
					f.series(h, s.Points)
				}
			}
		}
		avg, err := b.by(ctx, b.expr(qCPU, span), to, "instance")
		if err != nil {
			return err
		}
		for i, v := range avg {
			peaks(host(i)).CPUAvg = v
		}
		disk, err := b.by(ctx, b.expr(qDisk, span), to, "instance", "mountpoint")
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(disk)) {
			inst, mount, _ := strings.Cut(k, "\x00")
			p := peaks(host(inst))
			if v := disk[k]; !math.IsNaN(v) && (p.DiskMount == "" || v > p.Disk) {
				p.Found = true
				p.Disk, p.DiskMount = v, mount
			}
		}
		return nil
	}
	if err := period(w.From, w.To, true); err != nil {
		return err
	}
	if err := period(w.PrevFrom, w.From, false); err != nil {
		return err
	}
	for _, i := range slices.Sorted(maps.Keys(byInst)) {
		if h := byInst[i]; h.Cur.Found {
			w.Hosts = append(w.Hosts, *h)
		}
	}
	return nil
}
