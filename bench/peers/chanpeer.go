// chanpeer.go -- exco-bench's Go peer (bench/w8-sync.c): one repetition
// of W3 (channel case), W8 or W9, printing ns per operation.
//
//	chanpeer w3 M    two goroutines pass a token M times through two
//	                 channels of capacity 1 (GOMAXPROCS=1, like exco's
//	                 one loop thread)
//	chanpeer w8 T N  T goroutines send N items in all into one channel of
//	                 capacity 64 that the main goroutine drains (default
//	                 GOMAXPROCS: the senders run in parallel, as exco's
//	                 threads do)
//	chanpeer w9 K M  K goroutines take a sync.Mutex M times in all,
//	                 yielding (runtime.Gosched) while they hold it
//	                 (GOMAXPROCS=1)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func arg(i int) int64 {
	v, err := strconv.ParseInt(os.Args[i], 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return v
}

func w3(m int64) {
	runtime.GOMAXPROCS(1)
	rounds := m / 2
	ab := make(chan int64, 1)
	ba := make(chan int64, 1)
	done := make(chan bool)
	t0 := time.Now()
	go func() {
		var v int64
		for i := int64(0); i < rounds; i++ {
			ab <- v
			v = <-ba
		}
		done <- true
	}()
	go func() {
		for i := int64(0); i < rounds; i++ {
			v := <-ab
			ba <- v + 1
		}
		done <- true
	}()
	<-done
	<-done
	fmt.Printf("%.2f\n", float64(time.Since(t0).Nanoseconds())/float64(2*rounds))
}

func w8(t, n int64) {
	per := n / t
	c := make(chan int64, 64)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := int64(0); i < t; i++ {
		wg.Add(1)
		go func() {
			for v := int64(1); v <= per; v++ {
				c <- v
			}
			wg.Done()
		}()
	}
	go func() {
		wg.Wait()
		close(c)
	}()
	var got, sum int64
	for v := range c {
		got++
		sum += v
	}
	if got != per*t || sum != t*(per*(per+1)/2) {
		os.Exit(1)
	}
	fmt.Printf("%.2f\n", float64(time.Since(t0).Nanoseconds())/float64(per*t))
}

func w9(k, m int64) {
	runtime.GOMAXPROCS(1)
	per := m / k
	var mu sync.Mutex
	var wg sync.WaitGroup
	var counter int64
	t0 := time.Now()
	for i := int64(0); i < k; i++ {
		wg.Add(1)
		go func() {
			for j := int64(0); j < per; j++ {
				mu.Lock()
				counter++
				runtime.Gosched()
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	if counter != per*k {
		os.Exit(1)
	}
	fmt.Printf("%.2f\n", float64(time.Since(t0).Nanoseconds())/float64(per*k))
}

func main() {
	switch {
	case len(os.Args) == 3 && os.Args[1] == "w3":
		w3(arg(2))
	case len(os.Args) == 4 && os.Args[1] == "w8":
		w8(arg(2), arg(3))
	case len(os.Args) == 4 && os.Args[1] == "w9":
		w9(arg(2), arg(3))
	default:
		fmt.Fprintln(os.Stderr, "usage: chanpeer w3 M | w8 T N | w9 K M")
		os.Exit(2)
	}
}
