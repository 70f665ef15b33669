package forward

import (
	"context"
	"sort"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// registry is what a target reports of each site, with the province's
// codes applied.
type registry struct {
	// sites are the sites the target reports, by id, with their code.
	sites map[string]*siteInfo
	// unmappedSites and unmappedPoints lack a code ("site" and "site/point").
	unmappedSites  []string
	unmappedPoints []string
}

type siteInfo struct {
	ent    Enterprise
	base   Base
	points map[string]Point // mapped points by id
}

func (r *runner) refresh(ctx context.Context) error {
	codes, err := r.st.ForwardCodes(ctx, r.t.Name)
	if err != nil {
		return err
	}
	base, err := r.st.BaseData(ctx)
	if err != nil {
		return err
	}
	book := newCodeBook(codes)
	r.codes.Store(book)
	r.reg = buildRegistry(r.t, base, book)
	return nil
}

// buildRegistry joins the registry to the codes. A site is reported when
// it is listed (or no sites are listed) and has an enterprise code; a
// point when its site is reported and it has a point code.
func buildRegistry(t Target, b store.Base, book *codeBook) registry {
	want := map[string]bool{}
	for _, s := range t.Sites {
		want[s] = true
	}
	candidate := func(site string) bool { return len(want) == 0 || want[site] }
	reg := registry{sites: map[string]*siteInfo{}}
	names := map[string]store.Enterprise{}
	for _, e := range b.Enterprises {
		names[e.SiteID] = e
	}
	seen := map[string]bool{}
	consider := func(site string) {
		if seen[site] || !candidate(site) {
			return
		}
		seen[site] = true
		e := names[site]
		code := book.code(CodeEnterprise, site)
		if code == "" {
			code = e.Code
		}
		if code == "" {
			reg.unmappedSites = append(reg.unmappedSites, site)
			return
		}
		reg.sites[site] = &siteInfo{ent: Enterprise{SiteID: site, Code: code, Name: e.Name, Park: e.Park}, points: map[string]Point{}}
	}
	for _, e := range b.Enterprises {
		consider(e.SiteID)
	}
	for _, p := range b.Points {
		consider(p.SiteID)
	}
	for _, s := range t.Sites {
		consider(s)
	}
	hazardCode := func(site, local string) string {
		if local == "" {
			return ""
		}
		if c := book.code(CodeHazard, site+"/"+local); c != "" {
			return c
		}
		return local
	}
	for _, h := range b.Hazards {
		if si := reg.sites[h.SiteID]; si != nil {
			si.base.Hazards = append(si.base.Hazards, Hazard{LocalCode: h.Code, Code: hazardCode(h.SiteID, h.Code),
				Name: h.Name, Level: h.Level, UnitType: h.UnitType})
		}
	}
	for _, e := range b.Equipment {
		if si := reg.sites[e.SiteID]; si != nil {
			si.base.Equipment = append(si.base.Equipment, Equipment{Name: e.Name, Type: e.Type, Medium: e.Medium,
				HazardCode: hazardCode(e.SiteID, e.HazardCode)})
			if e.Medium != "" && !contains(si.base.Media, e.Medium) {
				si.base.Media = append(si.base.Media, e.Medium)
			}
		}
	}
	for _, p := range b.Points {
		if candidate(p.SiteID) {
			reg.addPoint(p, book, hazardCode)
		}
	}
	sort.Strings(reg.unmappedSites)
	sort.Strings(reg.unmappedPoints)
	return reg
}

// addPoint adds p to its site when both have a code, else to the unmapped.
func (reg *registry) addPoint(p store.BasePoint, book *codeBook, hazardCode func(site, local string) string) {
	code := book.code(CodePoint, p.SiteID+"/"+p.PointID)
	si := reg.sites[p.SiteID]
	if code == "" || si == nil {
		reg.unmappedPoints = append(reg.unmappedPoints, p.SiteID+"/"+p.PointID)
		return
	}
	pt := Point{PointID: p.PointID, Code: code, Name: p.Name, Description: p.Description, Unit: p.Unit, Kind: p.Kind,
		RangeLow: p.RangeLow, RangeHigh: p.RangeHigh, LL: p.LL, L: p.L, H: p.H, HH: p.HH, Stage1: p.Stage1, Stage2: p.Stage2,
		HazardCode: hazardCode(p.SiteID, p.HazardCode), Equipment: p.Equipment, OutOfService: p.OutOfService}
	si.points[p.PointID] = pt
	si.base.Points = append(si.base.Points, pt)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
