package inference

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestGroupTargets(t *testing.T) {
	last := time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)
	other := last.Add(-time.Hour)
	tg := func(id, model, symbol string, iv Interval, l *time.Time) Target {
		return Target{SignalID: id, ModelID: model, Symbol: symbol, Interval: iv, LastTS: l}
	}
	targets := []Target{
		tg("a", "m1", "BTCUSDT", Interval1h, &last),
		tg("b", "m2", "BTCUSDT", Interval1h, &last),
		tg("c", "m1", "BTCUSDT", Interval1h, &last),
		tg("d", "m1", "BTCUSDT", Interval1h, &other), // another last row: other bars due
		tg("e", "m1", "ETHUSDT", Interval1h, &last),  // another symbol
		tg("f", "m1", "BTCUSDT", Interval1h, nil),    // new
		tg("g", "", "BTCUSDT", Interval1h, &last),    // no model id: alone
		tg("h", "", "BTCUSDT", Interval1h, &last),
		tg("i", "m1", "BTCUSDT", Interval1h, nil),
	}
	ids := func(gs [][]Target) [][]string {
		var out [][]string
		for _, g := range gs {
			var s []string
			for _, t := range g {
				s = append(s, t.SignalID)
			}
			out = append(out, s)
		}
		return out
	}
	assert.Equal(t, [][]string{{"a", "c", "b"}, {"d"}, {"e"}, {"f", "i"}, {"g"}, {"h"}}, ids(groupTargets(targets, 100)),
		"models may share a group, ordered by model")
	assert.Equal(t, [][]string{{"a", "c"}, {"b"}, {"d"}, {"e"}, {"f", "i"}, {"g"}, {"h"}}, ids(groupTargets(targets, 2)),
		"a model's signals stay together as the bound allows")

	many := make([]Target, 2*7+1)
	for i := range many {
		many[i] = tg("x", "m1", "BTCUSDT", Interval1h, &last)
	}
	groups := groupTargets(many, 7)
	assert.Len(t, groups, 3, "a group holds at most maxGroup targets")
	assert.Len(t, groups[0], 7)
	assert.Len(t, groups[2], 1)
	assert.Len(t, groupTargets(many, 1), len(many), "a group size of 1 takes every target alone")
}

func TestSplitGroup(t *testing.T) {
	last := time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)
	later := last.Add(time.Hour)
	targets := make([]Target, 7)
	for i := range targets {
		targets[i] = Target{SignalID: string(rune('a' + i)), ModelID: "m1", Symbol: "BTCUSDT", Interval: Interval1h, LastTS: &last}
	}
	older := last.Add(-time.Hour)
	nowBar := later
	targets = append(targets, targets[0])
	held := []bool{true, true, false, true, true, true, true, true}
	states := []MemberState{
		{Found: true, Status: SignalActive, ModelID: "m1", LastTS: &last},
		{Found: true, Status: SignalShadow, ModelID: "m1", LastTS: &last},  // shadow signals stream too
		{Found: true, Status: SignalActive, ModelID: "m1", LastTS: &last},  // held elsewhere
		{Found: true, Status: SignalActive, ModelID: "m1", LastTS: &later}, // written up to now by another replica since the listing
		{Found: true, Status: SignalActive, ModelID: "m2", LastTS: &last},  // moved to another model
		{Found: true, Status: SignalRetired, ModelID: "m1", LastTS: &last}, // retired
		{Found: false}, // deleted
		{Found: true, Status: SignalActive, ModelID: "m1", LastTS: &older}, // a row deleted since the listing
	}
	members, alone, locked, current := splitGroup(targets, held, states, nowBar)
	assert.Equal(t, []int{0, 1}, members)
	assert.Equal(t, []int{4, 5, 6, 7}, alone)
	assert.Equal(t, []int{2}, locked)
	assert.Equal(t, []int{3}, current)

	// A listed-new target is a member only while it has no row.
	targets[0].LastTS, targets[1].LastTS = nil, nil
	states[0].LastTS = nil
	members, alone, _, _ = splitGroup(targets[:2], held[:2], states[:2], nowBar)
	assert.Equal(t, []int{0}, members)
	assert.Equal(t, []int{1}, alone)
}

func TestTargetResultCloneIsIndependent(t *testing.T) {
	bar := time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)
	res := &targetResult{state: StateWritten, lastWritten: &bar, stalled: make([]StalledBar, 1, 8), waitingOn: []MissingFeature{{Feature: "f"}}}
	a, b := res.clone(), res.clone()
	a.stalled = append(a.stalled, StalledBar{TS: bar})
	b.stalled = append(b.stalled, StalledBar{TS: bar.Add(time.Hour)})
	assert.True(t, a.stalled[1].TS.Equal(bar), "one member's stalled history never overwrites another's")
	*a.lastWritten = bar.Add(time.Hour)
	assert.True(t, b.lastWritten.Equal(bar))
	a.waitingOn[0].Feature = "g"
	assert.Equal(t, "f", b.waitingOn[0].Feature)
}
