package goeval

import (
	"os"
	"strings"

	"golang.org/x/sys/cpu"
)

// Which build of exp and expf glibc's ifunc resolver picks on x86-64: the
// FMA build when FMA and AVX2 are usable (for exp also the FMA4 build, which
// fuses the same operations, on AMD CPUs that have FMA4 without AVX2), else
// the plain SSE2 build. GLIBC_TUNABLES=glibc.cpu.hwcaps=-FMA,... masks
// features from that choice, so it masks them from ours too.
var fusedExp, fusedExpf = pickVariants(cpu.X86.HasFMA, cpu.X86.HasAVX2, cpuHasFMA4, os.Getenv("GLIBC_TUNABLES"))

// pickVariants asks hasFMA4 only when FMA and AVX2 alone do not decide.
func pickVariants(fma, avx2 bool, hasFMA4 func() bool, tunables string) (exp, expf bool) {
	fma4 := true
	for _, t := range strings.Split(tunables, ":") {
		list, ok := strings.CutPrefix(t, "glibc.cpu.hwcaps=")
		if !ok {
			continue
		}
		for _, f := range strings.Split(list, ",") {
			switch f {
			case "-FMA":
				fma = false
			case "-AVX2":
				avx2 = false
			case "-FMA4":
				fma4 = false // masked: never asked
			}
		}
	}
	if fma && avx2 {
		return true, true
	}
	return fma4 && hasFMA4(), false
}

// cpuHasFMA4 reads the kernel's CPU flags: x/sys/cpu does not report FMA4.
func cpuHasFMA4() bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "flags") {
			for _, f := range strings.Fields(line) {
				if f == "fma4" {
					return true
				}
			}
			return false
		}
	}
	return false
}

// Variant names the exp build in use, for logs and build info.
func Variant() string {
	if fusedExp {
		return "fma"
	}
	return "sse2"
}
