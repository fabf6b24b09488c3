package wlog

import (
	"flag"
	"strconv"
)

// Register binds upstream's logging flags, with its names and defaults,
// to o in fs. Registering the same o in two flag sets is allowed (both
// write the same fields); a name fs already has is left alone.
func Register(fs *flag.FlagSet, o *Options) {
	d := Defaults()
	boolVar := func(p *bool, name string, def bool, usage string) {
		if fs.Lookup(name) == nil {
			fs.BoolVar(p, name, def, usage)
		}
	}
	varOf := func(v flag.Value, name, usage string) {
		if fs.Lookup(name) == nil {
			fs.Var(v, name, usage)
		}
	}
	boolVar(&o.ToStderr, "logtostderr", false, "log to standard error instead of files")
	boolVar(&o.AlsoToStderr, "alsologtostderr", d.AlsoToStderr, "log to standard error as well as files")
	o.V, o.StderrThreshold = 0, d.StderrThreshold
	varOf((*intValue)(&o.V), "v", "log levels [0|1|2|3|4], default to 0")
	varOf((*severityValue)(&o.StderrThreshold), "stderrthreshold", "logs at or above this threshold go to stderr")
	varOf((*vmoduleValue)(&o.VModule), "vmodule", "comma-separated list of pattern=N settings for file-filtered logging")
	for _, name := range []string{"logdir", "log_dir"} { // log_dir: glog's original name
		if fs.Lookup(name) == nil {
			fs.StringVar(&o.Dir, name, "", "If non-empty, write log files in this directory")
		}
	}
	if fs.Lookup("log_max_size_mb") == nil {
		fs.Uint64Var(&o.MaxSizeMB, "log_max_size_mb", d.MaxSizeMB, "Maximum size in megabytes of each log file before it is rotated (0 = use default of 1800 MB)")
	}
	if fs.Lookup("log_max_files") == nil {
		fs.IntVar(&o.MaxFiles, "log_max_files", d.MaxFiles, "Maximum number of log files to keep per severity level before older ones are deleted (0 = use default of 5)")
	}
	if fs.Lookup("log_rotate_hours") == nil {
		fs.IntVar(&o.RotateHours, "log_rotate_hours", d.RotateHours, "Rotate log files after this many hours (default: 168 = 7 days, 0 = disabled)")
	}
	boolVar(&o.JSON, "log_json", false, "Output logs in JSON format instead of glog text format")
	boolVar(&o.Compress, "log_compress", false, "Gzip-compress rotated log files to save disk space")
	if fs.Lookup("log_backtrace_at") == nil {
		fs.String("log_backtrace_at", "", "accepted for compatibility (weedvol prints no backtraces)")
	}
}

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	*v = intValue(n)
	return nil
}

type severityValue Severity

func (v *severityValue) String() string { return strconv.Itoa(int(*v)) }
func (v *severityValue) Set(s string) error {
	sev, err := ParseSeverity(s)
	if err != nil {
		return err
	}
	*v = severityValue(sev)
	return nil
}

type vmoduleValue string

func (v *vmoduleValue) String() string { return string(*v) }
func (v *vmoduleValue) Set(s string) error {
	if _, err := parseVModule(s); err != nil {
		return err
	}
	*v = vmoduleValue(s)
	return nil
}
