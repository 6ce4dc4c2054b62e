package exitcode

import "testing"

func TestMerge(t *testing.T) {
	cases := []struct {
		in   []int
		want int
	}{
		{nil, OK},
		{[]int{OK, OK}, OK},
		{[]int{OK, NeedsReview}, NeedsReview},
		{[]int{NeedsReview, Locked}, Locked},
		{[]int{Locked, Refused, NeedsReview}, Refused},
		{[]int{Refused, Failure, Locked}, Failure},
		{[]int{OK, Failure}, Failure},
		{[]int{Failure, Usage}, Usage},
		{[]int{OK, 77}, Failure},
	}
	for _, c := range cases {
		if got := Merge(c.in...); got != c.want {
			t.Errorf("Merge(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}
