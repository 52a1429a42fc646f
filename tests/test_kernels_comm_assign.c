/* test_kernels_comm_assign.c — items of unequal sizes (blobs) assigned to ranks balanced by bytes
 * (cx_comm_assign_by_size, LPT): the rule itself, determinism, every item once, the bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels_testutil.h"

/* The rule written the plain way, O(n² + n·m): the largest item left (the lowest index among
 * equals) goes to the rank with the fewest bytes, then the fewest items, then the lowest rank.
 * The library's sort and heap must give exactly this. */
static void reference_lpt(const uint64_t *sizes, size_t n, int m, int *rank_of)
{
    unsigned char *done = calloc(n ? n : 1, 1);
    uint64_t *load = calloc((size_t)m, sizeof *load);
    size_t *count = calloc((size_t)m, sizeof *count);
    assert_true(done && load && count);
    for (size_t k = 0; k < n; k++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!done[i] && (best == n || sizes[i] > sizes[best]))
                best = i;
        int r = 0;
        for (int q = 1; q < m; q++)
            if (load[q] < load[r] || (load[q] == load[r] && count[q] < count[r]))
                r = q;
        done[best] = 1;
        rank_of[best] = r;
        load[r] += sizes[best];
        count[r]++;
    }
    free(done);
    free(load);
    free(count);
}

/* sizes drawn from a heavy tail (a few large blobs among many small) or, with ties, from a few
 * values including zero */
static void random_sizes(cx_rng *r, uint64_t *sizes, size_t n, int ties)
{
    for (size_t i = 0; i < n; i++) {
        if (ties) {
            sizes[i] = cx_rng_below(r, 4) * 1000;
        } else {
            uint64_t scale = (uint64_t)1 << cx_rng_below(r, 30);
            sizes[i] = 1 + cx_rng_below(r, scale);
        }
    }
}

static uint64_t max_load(const uint64_t *load, int m)
{
    uint64_t x = 0;
    for (int r = 0; r < m; r++)
        x = load[r] > x ? load[r] : x;
    return x;
}

/* The classic case where LPT is not optimal, worked by hand: 3 3 2 2 2 on two ranks. The 3s go
 * to ranks 0 and 1, the 2s alternate from rank 0 (ties: the lower rank) and the last lands on
 * rank 0: loads 7 and 5 where 6 and 6 exist (3 + 3, 2 + 2 + 2), 7/6 = 4/3 − 1/(3·2): Graham's
 * bound met exactly. */
static void test_comm_assign_lpt_rule(void **state)
{
    (void)state;
    cx_error e;
    const uint64_t sizes[] = {2, 3, 2, 3, 2};
    int rank_of[5];
    uint64_t load[3];
    assert_int_equal(cx_comm_assign_by_size(sizes, 5, 2, rank_of, load, &e), CX_OK);
    /* by size then index: 1 (3) → 0, 3 (3) → 1, 0 (2) → 0, 2 (2) → 1, 4 (2) → 0 */
    const int want[] = {0, 0, 1, 1, 0};
    assert_memory_equal(rank_of, want, sizeof want);
    assert_true(load[0] == 7 && load[1] == 5);
    /* equal sizes: by index, round the ranks */
    const uint64_t same[] = {5, 5, 5, 5, 5};
    assert_int_equal(cx_comm_assign_by_size(same, 5, 3, rank_of, load, &e), CX_OK);
    const int round[] = {0, 1, 2, 0, 1};
    assert_memory_equal(rank_of, round, sizeof round);
    assert_true(load[0] == 10 && load[1] == 10 && load[2] == 5);
}

/* The library against the plain rule on random sizes, with and without ties: the same rank for
 * every item; and a second call gives the same (a function of its inputs: every rank agrees). */
static void test_comm_assign_deterministic(void **state)
{
    (void)state;
    enum { N = 300 };
    static uint64_t sizes[N];
    static int a[N], b[N], ref[N];
    cx_rng r;
    cx_rng_seed(&r, 17);
    cx_error e;
    for (int trial = 0; trial < 40; trial++) {
        size_t n = 1 + cx_rng_below(&r, N);
        int m = 1 + (int)cx_rng_below(&r, 12);
        random_sizes(&r, sizes, n, trial % 2);
        assert_int_equal(cx_comm_assign_by_size(sizes, n, m, a, NULL, &e), CX_OK);
        assert_int_equal(cx_comm_assign_by_size(sizes, n, m, b, NULL, &e), CX_OK);
        reference_lpt(sizes, n, m, ref);
        assert_memory_equal(a, b, n * sizeof *a);
        assert_memory_equal(a, ref, n * sizeof *a);
    }
}

/* Every item on exactly one rank; each rank's list ascending; the loads are the lists' sums. */
static void test_comm_assign_every_item_once(void **state)
{
    (void)state;
    enum { N = 777, M = 7 };
    static uint64_t sizes[N];
    static int rank_of[N];
    static size_t items[N];
    static unsigned seen[N];
    uint64_t load[M];
    cx_rng r;
    cx_rng_seed(&r, 5);
    random_sizes(&r, sizes, N, 0);
    cx_error e;
    assert_int_equal(cx_comm_assign_by_size(sizes, N, M, rank_of, load, &e), CX_OK);
    size_t total = 0;
    for (int q = 0; q < M; q++) {
        size_t c = cx_comm_assigned(rank_of, N, q, items);
        uint64_t bytes = 0;
        for (size_t k = 0; k < c; k++) {
            assert_true(k == 0 || items[k] > items[k - 1]);
            assert_int_equal(rank_of[items[k]], q);
            seen[items[k]]++;
            bytes += sizes[items[k]];
        }
        assert_true(bytes == load[q]);
        total += c;
    }
    assert_int_equal(total, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
}

/* The best largest load, by trying every assignment (m^n; small cases only). */
static uint64_t optimum(const uint64_t *sizes, size_t n, int m)
{
    uint64_t best = UINT64_MAX, load[4];
    size_t combos = 1;
    for (size_t i = 0; i < n; i++)
        combos *= (size_t)m;
    for (size_t c = 0; c < combos; c++) {
        memset(load, 0, sizeof load);
        size_t x = c;
        for (size_t i = 0; i < n; i++, x /= (size_t)m)
            load[x % (size_t)m] += sizes[i];
        uint64_t mx = max_load(load, m);
        best = mx < best ? mx : best;
    }
    return best;
}

/* The documented bounds on random sizes: against the lower bound max(total/m, largest) the
 * greedy's m·max <= total + (m − 1)·largest; against the true optimum (exhaustive, small
 * cases) Graham's max <= (4/3 − 1/(3m))·OPT, i.e. 3m·max <= (4m − 1)·OPT. */
static void test_comm_assign_balance_bound(void **state)
{
    (void)state;
    enum { N = 2000 };
    static uint64_t sizes[N];
    static int rank_of[N];
    uint64_t load[16];
    cx_rng r;
    cx_rng_seed(&r, 29);
    cx_error e;
    for (int trial = 0; trial < 60; trial++) {
        size_t n = 1 + cx_rng_below(&r, N);
        int m = 1 + (int)cx_rng_below(&r, 16);
        random_sizes(&r, sizes, n, trial % 3 == 0);
        assert_int_equal(cx_comm_assign_by_size(sizes, n, m, rank_of, load, &e), CX_OK);
        uint64_t total = 0, largest = 0;
        for (size_t i = 0; i < n; i++) {
            total += sizes[i];
            largest = sizes[i] > largest ? sizes[i] : largest;
        }
        const uint64_t mx = max_load(load, m);
        const uint64_t lower = total / (uint64_t)m > largest ? total / (uint64_t)m : largest;
        assert_true(mx >= lower); /* sanity: nothing beats the lower bound */
        /* sizes < 2^30, n <= 2000, m <= 16: no product here overflows */
        assert_true((uint64_t)m * mx <= total + (uint64_t)(m - 1) * largest);
    }
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 1 + cx_rng_below(&r, 9);
        int m = 2 + (int)cx_rng_below(&r, 3); /* 2..4 ranks: at most 4^9 assignments */
        for (size_t i = 0; i < n; i++)
            sizes[i] = 1 + cx_rng_below(&r, trial % 2 ? 10 : 1000);
        assert_int_equal(cx_comm_assign_by_size(sizes, n, m, rank_of, load, &e), CX_OK);
        const uint64_t mx = max_load(load, m), opt = optimum(sizes, n, m);
        assert_true(mx >= opt);
        assert_true(3 * (uint64_t)m * mx <= (uint64_t)(4 * m - 1) * opt);
    }
}

static void test_comm_assign_edges(void **state)
{
    (void)state;
    cx_error e;
    int rank_of[6];
    uint64_t load[8];
    size_t items[6];
    /* more ranks than items: one item each on the lowest ranks (largest first), the rest empty */
    const uint64_t three[] = {10, 30, 20};
    assert_int_equal(cx_comm_assign_by_size(three, 3, 8, rank_of, load, &e), CX_OK);
    const int spread[] = {2, 0, 1};
    assert_memory_equal(rank_of, spread, sizeof spread);
    for (int q = 3; q < 8; q++) {
        assert_true(load[q] == 0);
        assert_int_equal(cx_comm_assigned(rank_of, 3, q, items), 0);
    }
    /* zero sizes: the item count breaks the tie, so they spread instead of piling on rank 0 */
    const uint64_t zeros[6] = {0};
    assert_int_equal(cx_comm_assign_by_size(zeros, 6, 3, rank_of, load, &e), CX_OK);
    const int zero_spread[] = {0, 1, 2, 0, 1, 2};
    assert_memory_equal(rank_of, zero_spread, sizeof zero_spread);
    /* one rank: everything */
    const uint64_t some[] = {4, 0, 9, 1};
    assert_int_equal(cx_comm_assign_by_size(some, 4, 1, rank_of, load, &e), CX_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rank_of[i], 0);
    assert_true(load[0] == 14);
    assert_int_equal(cx_comm_assigned(rank_of, 4, 0, items), 4);
    /* nothing to assign: every load zero */
    load[0] = load[1] = 99;
    assert_int_equal(cx_comm_assign_by_size(NULL, 0, 2, NULL, load, &e), CX_OK);
    assert_true(load[0] == 0 && load[1] == 0);
    /* refused: no ranks; sizes whose total does not fit in 64 bits */
    assert_int_equal(cx_comm_assign_by_size(some, 4, 0, rank_of, NULL, &e), CX_ERR_ARG);
    const uint64_t huge[] = {UINT64_MAX - 1, 2};
    assert_int_equal(cx_comm_assign_by_size(huge, 2, 2, rank_of, NULL, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "overflow"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comm_assign_lpt_rule),
        cmocka_unit_test(test_comm_assign_deterministic),
        cmocka_unit_test(test_comm_assign_every_item_once),
        cmocka_unit_test(test_comm_assign_balance_bound),
        cmocka_unit_test(test_comm_assign_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
