package main

import (
	"flag"
	"io"
	"reflect"
	"testing"
)

func TestParseInterleaved(t *testing.T) {
	cases := []struct {
		args []string
		pos  []string
		json bool
		part int
	}{
		{[]string{"img", "path"}, []string{"img", "path"}, false, 0},
		{[]string{"--json", "img", "path"}, []string{"img", "path"}, true, 0},
		{[]string{"img", "--partition", "3", "path", "--json"}, []string{"img", "path"}, true, 3},
		{[]string{"img", "--", "--json"}, []string{"img", "--json"}, false, 0},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		j := fs.Bool("json", false, "")
		p := fs.Int("partition", 0, "")
		pos, err := parseInterleaved(fs, c.args)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if !reflect.DeepEqual(pos, c.pos) && !(len(pos) == 0 && len(c.pos) == 0) {
			t.Errorf("%v: positional %v, want %v", c.args, pos, c.pos)
		}
		if *j != c.json || *p != c.part {
			t.Errorf("%v: json=%v partition=%d", c.args, *j, *p)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := parseInterleaved(fs, []string{"img", "--bogus"}); err == nil {
		t.Error("unknown flag after positional: no error")
	}
}
