/* parse_internal.h — shared internals of the data parsers: the schema, column layout,
 * per-segment row storage, string dictionaries and the fast float parser. io/ only. */
#ifndef CX_PARSE_INTERNAL_H
#define CX_PARSE_INTERNAL_H

#include "cx_io.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* A string -> dense id table (open addressing); names kept in insertion order. */
typedef struct cx_dict {
    /* the names' bytes: category values and class names are data, so they live in locked,
     * wiped memory (one arena per dict, not one mapping per string) */
    cx_secarena arena;
    char **names;    /* id -> NUL-terminated name (in arena) */
    size_t *lens;    /* id -> length */
    size_t n, cap;   /* names used / allocated */
    uint32_t *slots; /* hash table of id+1 (0 = empty) */
    size_t n_slots;  /* power of two */
} cx_dict;

#define CX_DICT_NONE UINT32_MAX
#define CX_CAT_MISSING UINT32_MAX /* stored id of a missing categorical value */

void cx_dict_init(cx_dict *d);
void cx_dict_free(cx_dict *d);
uint32_t cx_dict_find(const cx_dict *d, const char *s, size_t len);
/* Returns the id (new or existing); CX_DICT_NONE when out of memory. */
uint32_t cx_dict_intern(cx_dict *d, const char *s, size_t len);

/* A numeric column's declared statistics (NaN: not given): its standardisation ("mean", "std")
 * and its clipping range ("min", "max"), which a DP standardisation needs (chain/RULES.md §9.7). */
typedef struct cx_column_decl {
    double mean, std, lo, hi;
} cx_column_decl;

struct cx_dataset_schema {
    char **features;
    size_t n_features;
    char *label;
    cx_label_kind label_kind;
    char **cat_names;
    size_t n_cat;
    cx_dict *cat_vocab; /* per categorical: given vocabulary (n == 0 and !cat_given: collect) */
    int *cat_given;
    cx_missing_policy missing;
    float fill_value;
    double max_bad_fraction;
    char delimiter;
    int has_header;
    size_t skip_lines;
    size_t max_record_bytes; /* longest record carried between chunks (memory bound) */
    /* Declared by a job spec ("format", "columns"): what every blob must be, so that no
     * blob decides it for the others. n_columns == 0: not declared (the blobs' own). */
    int format_given;
    cx_data_format format;
    char **columns; /* the exact column set of every blob, in declared order */
    size_t n_columns;
    cx_column_decl *col_decl; /* (n_columns) what each column declares besides its type */
    cx_dict classes;          /* class label values, in declared order (y = index) */
    int classes_given;
};

enum { SLOT_NUM = 0, SLOT_CAT = 1, SLOT_LABEL_NUM = 2, SLOT_LABEL_CLASS = 3 };

/* A categorical or class slot holds a dictionary id as the bits of its float. */
static inline void cx_slot_put_id(float *row, int32_t slot, uint32_t id)
{
    memcpy(&row[slot], &id, sizeof id);
}

static inline uint32_t cx_slot_id(const float *row, int32_t slot)
{
    uint32_t id;
    memcpy(&id, &row[slot], sizeof id);
    return id;
}

/* How one blob's columns map onto the stored row (its "slots"): feature slots first
 * (numeric value or categorical id as uint32 bits), then the label slot. */
typedef struct cx_layout {
    size_t n_cols;     /* fields per record in the file */
    char **col_names;  /* (n_cols) */
    int32_t *col_slot; /* (n_cols): slot, or -1 ignored */
    cx_dict col_dict;  /* JSONL: key -> column */
    uint8_t *col_raw;  /* (n_cols) 1: the name is written in JSON as its own bytes (no '"',
                          '\\' or control character to escape) */
    size_t n_slots;    /* stride of a stored row */
    uint8_t *slot_kind;
    int32_t *slot_cat; /* schema categorical index for SLOT_CAT, else -1 */
    int32_t *slot_col; /* slot -> column */
    int label_slot;    /* -1 without label */
    int json_all;      /* JSONL columns from the first object: unknown keys are bad */
} cx_layout;

/* One contiguous run of rows of a blob (the whole blob when fed, one piece of a file
 * when loaded in parallel): its own storage, dictionaries and bad-row list. */
typedef struct cx_seg {
    const cx_dataset_schema *schema;
    const cx_layout *lay;
    char delim;
    float *rows; /* cx_secmem, (cap_rows, n_slots) */
    size_t n_rows, cap_rows;
    cx_dict *cats;  /* per schema categorical (collected vocabularies) */
    cx_dict labels; /* class names seen */
    uint64_t line;  /* 1-based line of the next record */
    uint64_t bad;
    size_t n_listed;
    cx_bad_row listed[CX_BAD_ROWS_LISTED];
    char *scratch; /* unquoting / unescaping, cx_secmem */
    size_t scratch_cap;
    uint32_t *seen; /* JSONL: per column, stamp of the row that set it */
    uint32_t stamp;
    cx_err oom; /* CX_OK, or the allocation error that stopped parsing */
} cx_seg;

cx_err cx_seg_init(cx_seg *s, const cx_dataset_schema *schema, const cx_layout *lay, cx_error *e);
void cx_seg_free(cx_seg *s);
/* Capacity for rows in total (0 and s->oom set on failure). */
int cx_seg_reserve(cx_seg *s, size_t rows);
/* Room for one more row; returns its storage or NULL (s->oom set). */
float *cx_seg_row(cx_seg *s);
int cx_seg_scratch(cx_seg *s, size_t need); /* 0 on failure (s->oom set) */
void cx_seg_bad(cx_seg *s, uint64_t line, cx_bad_reason why, uint32_t col);

cx_err cx_layout_build(cx_layout *L, const cx_dataset_schema *s, char **names, size_t n,
                       int json_all, cx_error *e); /* takes ownership of names */
void cx_layout_free(cx_layout *L);

/* Store one field's text into slot; returns 0 or a cx_bad_reason. */
int cx_seg_put_text(cx_seg *s, float *row, int32_t slot, const char *p, size_t len);
/* A missing value in slot: 0 or a cx_bad_reason. */
int cx_seg_put_missing(cx_seg *s, float *row, int32_t slot);

const char *cx_parse_f32_slow(const char *s, const char *p, float *out);

/* 10^0 .. 10^22: every one exact in a double. */
static const double cx_pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                          1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                          1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* 10^-0 .. 10^-22, each the double nearest to it. */
static const double cx_pow10_inv[23] = {1e-0,  1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,
                                        1e-8,  1e-9,  1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15,
                                        1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22};

/* Append the run of decimal digits at *pp to m (which may overflow past 19 digits:
 * *n counts them so the caller can tell). Eight bytes at a time where the input allows:
 * find the first non-digit with a mask, convert the digits before it with three
 * multiplies (the SWAR method of simdjson), so the run length costs no branch. */
static inline uint64_t cx_digit_run(const char **pp, const char *end, uint64_t m, long *n)
{
    static const uint64_t pow10_u64[9] = {1,      10,      100,      1000,     10000,
                                          100000, 1000000, 10000000, 100000000};
    const char *p = *pp;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t bad =
            ((w & 0xF0F0F0F0F0F0F0F0ull) ^ 0x3030303030303030ull) |
            (((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) ^ 0x3030303030303030ull);
        int k = bad ? __builtin_ctzll(bad) >> 3 : 8;
        if (k == 0)
            break;
        uint64_t v = (w & 0x0F0F0F0F0F0F0F0Full) << (8 * (8 - k));
        v = (v * 2561) >> 8;
        v = ((v & 0x00FF00FF00FF00FFull) * 6553601) >> 16;
        v = ((v & 0x0000FFFF0000FFFFull) * 42949672960001ull) >> 32;
        m = m * pow10_u64[k] + v;
        p += k;
        *n += k;
        if (k < 8) {
            *pp = p;
            return m;
        }
    }
#endif
    while (p < end && (unsigned)(*p - '0') < 10) {
        m = m * 10 + (unsigned)(*p++ - '0');
        (*n)++;
    }
    *pp = p;
    return m;
}

/* m * 10^e10 (negated if neg) correctly rounded to float, when that is cheap to know;
 * 0 when the caller must ask strtof. */
static inline int cx_dec_to_f32(uint64_t m, long e10, int neg, float *out)
{
    if (m == 0) {
        *out = neg ? -0.0f : 0.0f;
        return 1;
    }
    if (m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
        /* m and 10^|e| are exact doubles, so d is the correctly rounded double. Rounding
         * it again to float is exact unless d sits on a float midpoint (or is outside
         * the normal float range): then ask strtof. */
        double d = (double)m;
        uint64_t bits;
        if (e10 < 0) {
            /* Multiplying by the rounded reciprocal is within 3 double ulps of m/10^k; far
             * from a float midpoint that rounds to the same float as the exact quotient.
             * Near one, divide (exact-rounded) and check again below. */
            double a = d * cx_pow10_inv[-e10];
            memcpy(&bits, &a, sizeof bits);
            uint32_t low = (uint32_t)(bits & 0x1FFFFFFFu);
            if (a >= FLT_MIN && a <= FLT_MAX && (low < 0x10000000u - 8 || low > 0x10000000u + 8)) {
                float f = (float)a;
                *out = neg ? -f : f;
                return 1;
            }
            d = d / cx_pow10_exact[-e10];
        } else {
            d = d * cx_pow10_exact[e10];
        }
        if (d >= FLT_MIN && d <= FLT_MAX) {
            memcpy(&bits, &d, sizeof bits);
            if ((bits & 0x1FFFFFFFu) != 0x10000000u) {
                float f = (float)d;
                *out = neg ? -f : f;
                return 1;
            }
        }
    }
    return 0;
}

/* Parse one float from [p, end): strict decimal (sign, digits, '.', exponent). Returns
 * the end or NULL. The result equals strtof's (correct rounding); inline because it is
 * the inner loop of every text parser. */
static inline const char *cx_parse_f32(const char *p, const char *end, float *out)
{
    const char *s = p;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    /* Accumulate every digit; past 19 significant digits m overflows and the count
     * sends the number to strtof below. */
    uint64_t m = 0;
    const char *is = p;
    while (p < end && *p == '0')
        p++;
    long nd = 0;
    m = cx_digit_run(&p, end, m, &nd);
    int any = p > is;
    long e10 = 0;
    if (p < end && *p == '.') {
        p++;
        const char *fs = p;
        if (m == 0 && nd == 0) {
            while (p < end && *p == '0')
                p++;
            e10 = -(long)(p - fs);
        }
        long nf = 0;
        m = cx_digit_run(&p, end, m, &nf);
        nd += nf;
        e10 -= nf;
        any |= p > fs;
    }
    int inexact = nd > 19;
    if (!any)
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        int eneg = 0;
        if (q < end && (*q == '-' || *q == '+')) {
            eneg = *q == '-';
            q++;
        }
        if (q >= end || (unsigned)(*q - '0') >= 10)
            return NULL;
        long ev = 0;
        while (q < end && (unsigned)(*q - '0') < 10) {
            if (ev < 100000)
                ev = ev * 10 + (*q - '0');
            q++;
        }
        e10 += eneg ? -ev : ev;
        p = q;
    }
    if (!inexact && cx_dec_to_f32(m, e10, neg, out))
        return p;
    return cx_parse_f32_slow(s, p, out);
}

/* The value of n (1..8) ASCII digits at p (8 bytes must be readable). */
static inline uint64_t cx_swar_digits(const char *p, int n)
{
    uint64_t v;
    memcpy(&v, p, 8);
    v = (v & 0x0F0F0F0F0F0F0F0Full) << (8 * (8 - n));
    v = (v * 2561) >> 8;
    v = ((v & 0x00FF00FF00FF00FFull) * 6553601) >> 16;
    return ((v & 0x0000FFFF0000FFFFull) * 42949672960001ull) >> 32;
}

/* The common CSV number -- [-]digits[.digits], at most 8 digits each side, ending at a
 * delimiter, CR or LF within 16 bytes -- classified with one 16-byte load: its length
 * comes from a mask, not from walking it, so one field's end does not wait on the
 * previous field's digits. Returns the terminator's position, or NULL for anything
 * else (cx_parse_f32 then decides). Needs 32 readable bytes. */
#if defined(__SSE2__)
#include <emmintrin.h>
/* The number at p given its 16 bytes x and the mask of terminator bytes among them. */
static inline const char *cx_num_fast_at(const char *p, __m128i x, unsigned term, float *out)
{
    if (!term)
        return NULL;
    int len = __builtin_ctz(term);
    unsigned mask = (1u << len) - 1;
    __m128i dd = _mm_sub_epi8(x, _mm_set1_epi8('0'));
    unsigned dig =
        (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(dd, _mm_set1_epi8(9)), dd));
    unsigned dot = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('.'))) & mask;
    int neg = *p == '-';
    unsigned expect = mask & ~(unsigned)neg;
    if (((dig | dot) & expect) != expect || (dot & (dot - 1)) != 0)
        return NULL;
    int dp = dot ? __builtin_ctz(dot) : len;
    int ni = dp - neg, nf = dot ? len - dp - 1 : 0;
    if (ni > 8 || nf > 8 || ni + nf == 0)
        return NULL;
    uint64_t m = ni ? cx_swar_digits(p + neg, ni) : 0;
    if (nf) {
        static const uint64_t pw[9] = {1,      10,      100,      1000,     10000,
                                       100000, 1000000, 10000000, 100000000};
        m = m * pw[nf] + cx_swar_digits(p + dp + 1, nf);
    }
    if (!cx_dec_to_f32(m, -(long)nf, neg, out))
        return NULL;
    return p + len;
}

static inline const char *cx_csv_num_fast(const char *p, const char *end, char delim, float *out)
{
    if (end - p < 32)
        return NULL;
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i t = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(delim)),
                             _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\n')),
                                          _mm_cmpeq_epi8(x, _mm_set1_epi8('\r'))));
    return cx_num_fast_at(p, x, (unsigned)_mm_movemask_epi8(t), out);
}

/* The same for a JSON value: a plain number ends at ',', '}' or white space (a number
 * cx_parse_f32 reads to the same end and the same float). */
static inline const char *cx_json_num_fast(const char *p, const char *end, float *out)
{
    if (end - p < 32)
        return NULL;
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i t = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(',')), _mm_cmpeq_epi8(x, _mm_set1_epi8('}'))),
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')),
                                  _mm_cmpeq_epi8(x, _mm_set1_epi8('\t'))),
                     _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\n')),
                                  _mm_cmpeq_epi8(x, _mm_set1_epi8('\r')))));
    return cx_num_fast_at(p, x, (unsigned)_mm_movemask_epi8(t), out);
}
#else
static inline const char *cx_csv_num_fast(const char *p, const char *end, char delim, float *out)
{
    (void)p, (void)end, (void)delim, (void)out;
    return NULL;
}
static inline const char *cx_json_num_fast(const char *p, const char *end, float *out)
{
    (void)p, (void)end, (void)out;
    return NULL;
}
#endif

int cx_is_missing_token(const char *p, size_t len);

/* Row parsers. parse: consume complete records in [p, end) whose start is before
 * limit; eof says the data ends at end (last record needs no newline). Returns where
 * parsing stopped (at an incomplete record when !eof). */
const char *cx_csv_parse(cx_seg *s, const char *p, const char *limit, const char *end, int eof);
const char *cx_jsonl_parse(cx_seg *s, const char *p, const char *limit, const char *end, int eof);
/* End of the CSV record starting at p (after its newline), or NULL if incomplete. */
const char *cx_csv_record_end(const char *p, const char *end, char delim, int eof);
/* Where cx_csv_record_end stopped in an incomplete record, to resume there once more
 * bytes are appended to the same record (start from CX_CSV_SCAN_INIT). */
typedef struct cx_csv_scan {
    size_t off; /* bytes of the record already scanned */
    int in_quote, field_start;
} cx_csv_scan;
#define CX_CSV_SCAN_INIT                                                                           \
    {                                                                                              \
        0, 0, 1                                                                                    \
    }
const char *cx_csv_record_end_resume(const char *r, const char *end, char delim, int eof,
                                     cx_csv_scan *st);
/* Split one CSV record into fields (unquoted, malloc'ed names). */
cx_err cx_csv_split_header(const char *p, const char *end, char delim, char ***names, size_t *n,
                           cx_error *e);
/* Keys of one flat JSON object, in order. */
cx_err cx_jsonl_keys(const char *p, const char *end, char ***names, size_t *n, cx_error *e);

/* f32 header: fills cols/rows/names and the byte offset of the data; CX_ERR_STATE with
 * *need set when more bytes are needed. */
cx_err cx_f32_header_parse(const uint8_t *p, size_t len, size_t *need, uint64_t *rows,
                           uint32_t *cols, int32_t *label_col, char ***names, size_t *data_off,
                           cx_error *e);
/* Store complete rows of f32 data (len a multiple of the row size); first_row numbers
 * bad rows. */
void cx_f32_rows(cx_seg *s, const uint8_t *p, size_t n_rows, uint64_t first_row);

void cx_names_free(char **names, size_t n);
/* Append a NUL-terminated copy of s[0..len) to names (n used of *cap, doubled as needed);
 * -1 when out of memory (names stays valid for cx_names_free). */
int cx_names_push(char ***names, size_t *n, size_t *cap, const char *s, size_t len);
/* Index of name in names[0..n), or -1. */
int64_t cx_names_find(char **names, size_t n, const char *name);
/* A parsed row is finished: bad (a cx_bad_reason, 0 = good) lists it, else it is kept. */
void cx_seg_row_done(cx_seg *s, uint64_t line, int bad, uint32_t col);

#endif
