/* demo_data.c — the demo's synthetic sellers: wearable and health measurements per cohort with
 * a learnable cardiometabolic risk label, and the demo buyer's job spec. SIMULATED data. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static double gauss(cx_rng *r)
{
    double u1 = cx_rng_uniform(r), u2 = cx_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

cx_err cli_demo_data_csv(uint64_t seed, unsigned cohort, size_t rows, uint8_t **out, size_t *len,
                        cx_error *e)
{
    static const char header[] =
        "age,sex,bmi,resting_hr,hrv_ms,steps,sleep_h,active_min,systolic_bp,spo2,risk\n";
    enum { ROW_MAX = 96 };
    size_t cap = sizeof header + rows * ROW_MAX;
    char *buf = cx_secmem_alloc(cap, 0, e);
    if (!buf)
        return e ? e->code : CX_ERR_NOMEM;
    cx_rng r;
    cx_rng_seed(&r, seed * 1000003u + cohort);
    /* cohort traits: an older or younger user base, more or less active, device noise */
    double age_mu = 38 + 22 * cx_rng_uniform(&r);
    double activity = 0.7 + 0.6 * cx_rng_uniform(&r);
    double noise = 0.5 + cx_rng_uniform(&r);
    size_t n = (size_t)snprintf(buf, cap, "%s", header);
    for (size_t i = 0; i < rows; i++) {
        double age = clampd(age_mu + 12 * gauss(&r), 18, 90);
        int sex = cx_rng_uniform(&r) < 0.5;
        double bmi = clampd(26 + 0.05 * (age - 45) + 4.2 * gauss(&r), 16, 50);
        double steps = clampd(
            activity * (9000 - 50 * (age - 45) - 180 * (bmi - 26)) + 2500 * gauss(&r), 300, 30000);
        double active = clampd(steps / 180 + 8 * gauss(&r), 0, 240);
        double rhr =
            clampd(64 + 0.6 * (bmi - 26) - 0.0008 * (steps - 8000) + 7 * gauss(&r) + (sex ? -2 : 2),
                   40, 120);
        double hrv = clampd(52 - 0.45 * (age - 45) - 0.5 * (rhr - 64) + 11 * gauss(&r), 8, 150);
        double sleep = clampd(7.1 + 0.9 * gauss(&r) - 0.00003 * (steps - 8000), 3, 11);
        double sbp = clampd(
            121 + 0.5 * (age - 45) + 0.9 * (bmi - 26) + (sex ? 4 : 0) + 11 * gauss(&r), 85, 200);
        double spo2 = clampd(97.2 - 0.05 * (bmi - 26) + 0.9 * gauss(&r), 85, 100);
        double z = -1.1 + 0.05 * (age - 45) + 0.09 * (bmi - 26) + 0.035 * (rhr - 64) -
                   0.03 * (hrv - 45) - 0.00011 * (steps - 8000) - 0.3 * (sleep - 7) +
                   0.03 * (sbp - 121) - 0.25 * (spo2 - 97) + 0.25 * sex;
        int risk = cx_rng_uniform(&r) < 1.0 / (1.0 + exp(-z));
        /* the device's measurement noise, after the label: what the model sees */
        rhr += noise * gauss(&r);
        hrv += 2 * noise * gauss(&r);
        int w = snprintf(buf + n, cap - n, "%.0f,%d,%.1f,%.0f,%.1f,%.0f,%.2f,%.0f,%.0f,%.1f,%d\n",
                         age, sex, bmi, rhr, hrv, steps, sleep, active, sbp, spo2, risk);
        if (w < 0 || (size_t)w >= cap - n) {
            cx_secmem_free(buf);
            return cx_error_set(e, CX_ERR_INTERNAL, "demo data: row buffer too small");
        }
        n += (size_t)w;
    }
    *out = (uint8_t *)buf;
    *len = n;
    return CX_OK;
}

/* The buyer's spec declares the data in full (RULES.md §9), the standardisation included:
 * population-level means and spreads of each measurement, public knowledge, so that the DP model
 * carries no statistic of the sellers' rows. */
const char *cli_demo_spec_json(void)
{
    return "{\n"
           "  \"task\": \"classification\",\n"
           "  \"data\": {\"format\": \"csv\", \"label\": \"risk\", \"columns\": [\n"
           "    {\"name\": \"age\", \"type\": \"numeric\", \"mean\": 45, \"std\": 15},\n"
           "    {\"name\": \"sex\", \"type\": \"numeric\", \"mean\": 0.5, \"std\": 0.5},\n"
           "    {\"name\": \"bmi\", \"type\": \"numeric\", \"mean\": 26, \"std\": 4.5},\n"
           "    {\"name\": \"resting_hr\", \"type\": \"numeric\", \"mean\": 64, \"std\": 9},\n"
           "    {\"name\": \"hrv_ms\", \"type\": \"numeric\", \"mean\": 50, \"std\": 15},\n"
           "    {\"name\": \"steps\", \"type\": \"numeric\", \"mean\": 8000, \"std\": 3500},\n"
           "    {\"name\": \"sleep_h\", \"type\": \"numeric\", \"mean\": 7, \"std\": 1},\n"
           "    {\"name\": \"active_min\", \"type\": \"numeric\", \"mean\": 45, \"std\": 25},\n"
           "    {\"name\": \"systolic_bp\", \"type\": \"numeric\", \"mean\": 121, \"std\": 14},\n"
           "    {\"name\": \"spo2\", \"type\": \"numeric\", \"mean\": 97, \"std\": 1.2},\n"
           "    {\"name\": \"risk\", \"type\": \"class\", \"values\": [\"0\", \"1\"]}]},\n"
           "  \"model\": {\"type\": \"mlp\", \"hidden\": [32], \"activation\": \"relu\"},\n"
           "  \"optimizer\": {\"type\": \"adam\", \"lr\": 0.01},\n"
           "  \"batch_size\": 512, \"epochs\": 12, \"validation_split\": 0.2, \"seed\": 7,\n"
           "  \"privacy\": {\"noise_multiplier\": 1.0, \"max_grad_norm\": 1.0, \"delta\": 1e-5,\n"
           "              \"sampling\": \"poisson\"}\n"
           "}\n";
}
