// Command porcupine-check checks a chaosbed history.jsonl of compare-and-set register
// operations with Porcupine, the baseline of `cargo xtask bench checker`.
//
// It reads the history the way chaosbed's linearizable checker does (linearizable reads):
// invocations pair with their process's next completion; ok reads, writes and CAS must
// linearize; failed operations and reads of unknown outcome are dropped; a write or CAS of
// unknown outcome (info, or never completed) returns at +infinity (math.MaxInt64) and, being a
// write, may be linearized last, where it affects nothing, so it is in effect optional. The
// model is partitioned by key. It prints one JSON line: {"verdict": "ok"|"illegal"|"unknown",
// "seconds": check time, "read_seconds": parse time, "operations": n, "partitions": n}.
//
// Usage: porcupine-check [-timeout 60s] FILE
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

type record struct {
	Index   uint64                     `json:"index"`
	Time    int64                      `json:"time"`
	Process string                     `json:"process"`
	F       string                     `json:"f"`
	Kind    string                     `json:"kind"`
	Value   map[string]json.RawMessage `json:"value"`
}

// null is the register's initial value: nothing written.
const null = math.MinInt64

type input struct {
	key    string
	op     byte // 'r', 'w', 'c'
	value  int64
	expect int64
}

type output struct {
	value   int64 // a read's result
	unknown bool  // a write or CAS of unknown outcome
}

type pending struct {
	call int64
	in   input
}

func number(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return null, nil
	}
	var v int64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("value %s is not an integer: %w", raw, err)
	}
	return v, nil
}

func keyOf(r *record) string {
	raw := r.Value["key"]
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func read(path string) ([]porcupine.Operation, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	clients := map[string]int{}
	open := map[string]pending{}
	var ops []porcupine.Operation
	line := 0
	for scanner.Scan() {
		line++
		if len(scanner.Bytes()) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(scanner.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if r.F != "read" && r.F != "write" && r.F != "cas" {
			continue
		}
		if _, ok := clients[r.Process]; !ok {
			clients[r.Process] = len(clients)
		}
		if r.Kind == "invoke" {
			in := input{key: keyOf(&r), op: r.F[0]}
			if r.F != "read" {
				if in.value, err = number(r.Value["value"]); err != nil {
					return nil, fmt.Errorf("line %d: %w", line, err)
				}
			}
			if r.F == "cas" {
				if in.expect, err = number(r.Value["expect"]); err != nil {
					return nil, fmt.Errorf("line %d: %w", line, err)
				}
			}
			if p, ok := open[r.Process]; ok && p.in.op != 'r' {
				// Invoked again while open: the open one never completed.
				ops = append(ops, porcupine.Operation{ClientId: clients[r.Process], Input: p.in, Call: p.call, Output: output{unknown: true}, Return: math.MaxInt64})
			}
			open[r.Process] = pending{call: r.Time, in: in}
			continue
		}
		p, ok := open[r.Process]
		if !ok {
			continue
		}
		delete(open, r.Process)
		client := clients[r.Process]
		switch {
		case r.Kind == "fail":
		case p.in.op == 'r' && r.Kind == "ok":
			v, err := number(r.Value["value"])
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			ops = append(ops, porcupine.Operation{ClientId: client, Input: p.in, Call: p.call, Output: output{value: v}, Return: r.Time})
		case p.in.op == 'r':
		case r.Kind == "ok":
			ops = append(ops, porcupine.Operation{ClientId: client, Input: p.in, Call: p.call, Output: output{}, Return: r.Time})
		default: // info
			ops = append(ops, porcupine.Operation{ClientId: client, Input: p.in, Call: p.call, Output: output{unknown: true}, Return: math.MaxInt64})
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	for process, p := range open {
		if p.in.op != 'r' {
			ops = append(ops, porcupine.Operation{ClientId: clients[process], Input: p.in, Call: p.call, Output: output{unknown: true}, Return: math.MaxInt64})
		}
	}
	return ops, nil
}

var register = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(input).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return int64(null) },
	Step: func(state, in, out interface{}) (bool, interface{}) {
		s := state.(int64)
		i := in.(input)
		o := out.(output)
		switch i.op {
		case 'r':
			return o.value == s, s
		case 'w':
			return true, i.value
		default: // cas
			if s == i.expect {
				return true, i.value
			}
			// A CAS of unknown outcome may have been refused: no change.
			return o.unknown, s
		}
	},
	Equal: func(a, b interface{}) bool { return a.(int64) == b.(int64) },
	Hash:  func(s interface{}) uint64 { return uint64(s.(int64)) },
}

func main() {
	timeout := flag.Duration("timeout", 60*time.Second, "give up (verdict unknown) after this long")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: porcupine-check [-timeout 60s] FILE")
		os.Exit(2)
	}
	started := time.Now()
	ops, err := read(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	readSeconds := time.Since(started).Seconds()
	checkStarted := time.Now()
	result := porcupine.CheckOperationsTimeout(register, ops, *timeout)
	seconds := time.Since(checkStarted).Seconds()
	verdict := map[porcupine.CheckResult]string{porcupine.Ok: "ok", porcupine.Illegal: "illegal", porcupine.Unknown: "unknown"}[result]
	line, _ := json.Marshal(map[string]interface{}{
		"verdict":      verdict,
		"seconds":      seconds,
		"read_seconds": readSeconds,
		"operations":   len(ops),
		"partitions":   len(register.Partition(ops)),
	})
	fmt.Println(string(line))
}
