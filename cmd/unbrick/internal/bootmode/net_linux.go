//go:build linux

package bootmode

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/dhclient"
	"github.com/vishvananda/netlink"
)

// netResolvConf is where the DNS servers of the lease go (Go's resolver
// reads it).
const netResolvConf = "/etc/resolv.conf"

// bringUpNetwork waits up to limit for wired network interfaces, asks
// DHCP (IPv4) on all of them at once, and configures the first lease
// (address, routes, DNS servers). It returns a one-line description for
// the boot record, or an error that says what was tried.
func bringUpNetwork(limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	if lo, err := netlink.LinkByName("lo"); err == nil {
		netlink.LinkSetUp(lo)
	}
	var links []netlink.Link
	for {
		links = wiredLinks()
		if len(links) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(links) == 0 {
		return "", fmt.Errorf("no network adapter found after %s: its driver is not in this boot image, or the machine has no wired port (Wi-Fi is not supported)", limit)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	// u-root's dhclient logs each attempt with the log package; the
	// booter says what matters itself.
	log.SetOutput(io.Discard)
	defer log.SetOutput(os.Stderr)
	left := time.Until(deadline)
	if left < 10*time.Second {
		left = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), left)
	defer cancel()
	var tried []string
	for r := range dhclient.SendRequests(ctx, links, true, false, dhclient.Config{Timeout: 4 * time.Second, Retries: 4}, 10*time.Second) {
		name := r.Interface.Attrs().Name
		if r.Err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", name, r.Err))
			continue
		}
		if err := r.Lease.Configure(); err != nil {
			tried = append(tried, fmt.Sprintf("%s: configure the lease: %v", name, err))
			continue
		}
		desc := fmt.Sprintf("%s %s", name, r.Lease)
		if p, ok := r.Lease.(*dhclient.Packet4); ok {
			m, _ := p.Message()
			desc = fmt.Sprintf("%s %s", name, p.Lease())
			if gw := m.Router(); len(gw) > 0 {
				desc += fmt.Sprintf(" via %s", gw[0])
			}
			if sid := m.ServerIdentifier(); sid != nil {
				desc += fmt.Sprintf(" (DHCP server %s)", sid)
			}
		}
		return desc, nil
	}
	sort.Strings(tried)
	why := "no DHCP answer"
	if len(tried) > 0 {
		why = strings.Join(tried, "; ")
	}
	return "", fmt.Errorf("no DHCP lease on %s within %s (%s): check the cable, the switch port's VLAN and that a DHCP server answers on it", strings.Join(names, ", "), left.Round(time.Second), why)
}

// wiredLinks lists the Ethernet interfaces (not loopback, bridges, bonds
// or tunnels).
func wiredLinks() []netlink.Link {
	all, err := netlink.LinkList()
	if err != nil {
		return nil
	}
	var out []netlink.Link
	for _, l := range all {
		a := l.Attrs()
		if l.Type() != "device" || a.EncapType != "ether" {
			continue
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attrs().Name < out[j].Attrs().Name })
	return out
}
