package main

import "testing"

// The same literal is pinned in ../src/measure.rs (tests::payload_is_pinned): both sides send
// identical bytes.
func TestPayloadMatchesMeasureRs(t *testing.T) {
	if got := string(payload(32)); got != "LKKYMHDMDSRZNGVHMNBPLJKSFEPNHJPN" {
		t.Fatalf("payload(32) = %q", got)
	}
	var sum uint64
	for i, b := range payload(100_000) {
		sum += uint64(i+1) * uint64(b)
	}
	if sum != 387252262896 {
		t.Fatalf("payload(100000) weighted sum = %d", sum)
	}
}
