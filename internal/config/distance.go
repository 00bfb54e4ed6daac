package config

// EditDistance is the Levenshtein distance between a and b, in runes: the
// fewest single-rune insertions, deletions and substitutions that turn a
// into b. It backs the "did you mean" hints of config errors and the label
// typo warnings of `rgate validate --docker`.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// editDistance is EditDistance, under the name the package's tests use.
func editDistance(a, b string) int { return EditDistance(a, b) }
