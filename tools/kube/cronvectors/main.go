// Command cronvectors prints golden vectors for schedule maths: for each case read from
// stdin as a JSON array of {schedule, timeZone, after, count}, it prints the next
// activation times computed by github.com/robfig/cron/v3 — the library and the parser
// options the Kubernetes CronJob controller uses — so the Python side can be checked
// against the real thing. It also reports what the CronJob API validation would say
// about the schedule and time zone (apiErrors), since the API server rejects some specs
// the controller's parser accepts.
//
// An empty timeZone means "not set" (no TZ= prefix; the schedule runs in the zone of
// the time passed to Next, which is UTC here).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // as kube-controller-manager does, for CronJob time zone support

	"github.com/robfig/cron/v3"
)

type vectorCase struct {
	Schedule string `json:"schedule"`
	TimeZone string `json:"timeZone"`
	After    string `json:"after"`
	Count    int    `json:"count"`
}

type vector struct {
	vectorCase
	// APIErrors are the CronJob API validation errors as "<field>: <detail>".
	APIErrors []string `json:"apiErrors,omitempty"`
	// Error is the error of the controller's cron.ParseStandard("TZ=<zone> <schedule>").
	Error string   `json:"error,omitempty"`
	Next  []string `json:"next,omitempty"`
	// Hang says that robfig's Next did not return (it loops forever on some historic
	// time zone changes, e.g. Pacific/Apia skipping 2011-12-30).
	Hang string `json:"hang,omitempty"`
}

// nextTimeout bounds one Next call; a normal one takes microseconds.
const nextTimeout = 5 * time.Second

func main() {
	var cases []vectorCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "cronvectors: reading cases:", err)
		os.Exit(2)
	}
	out := make([]vector, 0, len(cases))
	for _, c := range cases {
		out = append(out, compute(c))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "cronvectors: writing vectors:", err)
		os.Exit(1)
	}
}

func compute(c vectorCase) vector {
	v := vector{vectorCase: c, APIErrors: apiErrors(c)}
	// As the CronJob controller's formatSchedule does: a time zone becomes a "TZ=" prefix
	// and the result goes through cron.ParseStandard.
	spec := c.Schedule
	if c.TimeZone != "" {
		spec = fmt.Sprintf("TZ=%s %s", c.TimeZone, c.Schedule)
	}
	sched, err := parseWithPanicRecovery(spec)
	if err != nil {
		v.Error = err.Error()
		return v
	}
	after, err := time.Parse(time.RFC3339, c.After)
	if err != nil {
		v.Error = err.Error()
		return v
	}
	t := after.UTC()
	for range c.Count {
		next, ok := nextWithTimeout(sched, t)
		if !ok {
			v.Hang = fmt.Sprintf("Next(%s) did not return within %s", t.Format(time.RFC3339), nextTimeout)
			break
		}
		t = next
		if t.IsZero() {
			break
		}
		v.Next = append(v.Next, t.UTC().Format(time.RFC3339))
	}
	return v
}

// nextWithTimeout runs sched.Next(t), giving up after nextTimeout. A goroutine that never
// returns keeps spinning until the program exits.
func nextWithTimeout(sched cron.Schedule, t time.Time) (time.Time, bool) {
	done := make(chan time.Time, 1)
	go func() { done <- sched.Next(t) }()
	select {
	case next := <-done:
		return next, true
	case <-time.After(nextTimeout):
		return time.Time{}, false
	}
}

// parseWithPanicRecovery is k8s.io/kubernetes/pkg/util/parsers.ParseCronScheduleWithPanicRecovery
// (v1.36.3): robfig's parser panics on e.g. "TZ=UTC" without a space.
func parseWithPanicRecovery(schedule string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched = nil
			err = fmt.Errorf("invalid schedule format: %v", r)
		}
	}()
	return cron.ParseStandard(schedule)
}

// The checks below are those of validateScheduleFormat (on create) and validateTimeZone in
// k8s.io/kubernetes@v1.36.3/pkg/apis/batch/validation/validation.go, copied rather than
// imported so that building this tool only compiles robfig/cron.
var validTimeZoneCharacters = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func apiErrors(c vectorCase) []string {
	var errs []string
	if len(c.Schedule) == 0 {
		errs = append(errs, "spec.schedule: Required value")
	} else {
		if _, err := parseWithPanicRecovery(c.Schedule); err != nil {
			errs = append(errs, "spec.schedule: "+err.Error())
		}
		if strings.Contains(c.Schedule, "TZ") {
			errs = append(errs, "spec.schedule: cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
		}
	}
	if c.TimeZone == "" {
		return errs // not set: nothing to validate
	}
	for _, part := range strings.Split(c.TimeZone, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZoneCharacters.MatchString(part) {
			return append(errs, "spec.timeZone: unknown time zone "+c.TimeZone)
		}
	}
	if strings.EqualFold(c.TimeZone, "Local") {
		errs = append(errs, "spec.timeZone: timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		errs = append(errs, "spec.timeZone: "+err.Error())
	}
	return errs
}
