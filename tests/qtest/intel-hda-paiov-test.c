/*
 * QTest for intel-hda-paiov: the virtual PSA of the power-aware Intel HDA
 * controller and the power states of its codecs
 *
 * Everything runs under qtest's virtual clock: codec verbs through the
 * immediate command interface (ICW/IRR/ICS) as a driver without a CORB
 * sends them, stream RUN bits, D3hot/D0 through PMCSR, guest errors and
 * migration of the power state.
 *
 * Copyright (c) 2026 The qemu-paiov authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/pci/pci_regs.h"
#include "qemu/bswap.h"
#ifdef CONFIG_LINUX
#include <sys/prctl.h>
#endif
#include "qemu/timer.h"
#include "paiov-qtest.h"

#define PAIOV_DEVFN QPCI_DEVFN(4, 0)
#define STOCK_DEVFN QPCI_DEVFN(5, 0)
#define PM_CAP 0x50
#define MSI_CAP 0x60

#define REG_GCTL 0x08
#define REG_ICW 0x60
#define REG_IRR 0x64
#define REG_ICS 0x68
#define ICS_BUSY 0x1
#define ICS_VALID 0x2
#define REG_OSD0_CTL 0x100          /* first output stream descriptor */
#define SD_CTL_RUN 0x02

#define NID_ROOT 0
#define NID_AFG 1
#define NID_DAC 2                   /* hda-duplex: the line-out converter */
#define NID_NONE 0x1f

#define VERB_GET_POWER 0xf05
#define VERB_SET_POWER 0x705
#define VERB_SET_STREAMID 0x706
#define VERB_SET_FORMAT_HI 0x200       /* 0x2 and the format's high byte */

#define ARGS "-M pc -audiodev none,id=snd0 " \
    "-device ich9-intel-hda-paiov,id=hda,addr=04.0 " \
    "-device hda-duplex-paiov,audiodev=snd0,bus=hda.0 "

typedef PaiovFixture Fixture;

static const PaiovFixtureOpts opts = {
    .args = ARGS, .name = "hda-paiov", .devfn = PAIOV_DEVFN, .barno = 0,
};

/* Start QEMU (@log: with a guest error log) and take the link out of reset */
static void fixture_start_log(Fixture *f, const char *extra, bool log)
{
    paiov_fixture_start(f, &opts, extra, log);
    qpci_io_writel(f->dev, f->bar, REG_GCTL, 1);
}

static void fixture_start(Fixture *f, const char *extra)
{
    fixture_start_log(f, extra, false);
}

#define fixture_stop paiov_fixture_stop

/* A QEMU the test started itself (f->qts): take the link out of reset */
static void fixture_attach(Fixture *f)
{
    paiov_fixture_attach(f, PAIOV_DEVFN, 0);
    qpci_io_writel(f->dev, f->bar, REG_GCTL, 1);
}

/* A verb to the codec at @cad through the immediate command interface */
static uint32_t verb_to(QPCIDevice *dev, QPCIBar bar, uint32_t cad,
                        uint32_t nid, uint32_t verb, uint32_t payload)
{
    qpci_io_writel(dev, bar, REG_ICW,
                   cad << 28 | nid << 20 | verb << 8 | payload);
    qpci_io_writew(dev, bar, REG_ICS, ICS_BUSY);
    g_assert_cmphex(qpci_io_readw(dev, bar, REG_ICS) & 3, ==, ICS_VALID);
    qpci_io_writew(dev, bar, REG_ICS, ICS_VALID);
    return qpci_io_readl(dev, bar, REG_IRR);
}

/* A verb to codec 0 */
static uint32_t verb_on(QPCIDevice *dev, QPCIBar bar, uint32_t nid,
                        uint32_t verb, uint32_t payload)
{
    return verb_to(dev, bar, 0, nid, verb, payload);
}

static uint32_t verb(Fixture *f, uint32_t nid, uint32_t v, uint32_t payload)
{
    return verb_on(f->dev, f->bar, nid, v, payload);
}

static void stream_run(Fixture *f, bool run)
{
    /* stream number 1 in bits 23:20 */
    qpci_io_writel(f->dev, f->bar, REG_OSD0_CTL,
                   1 << 20 | (run ? SD_CTL_RUN : 0));
}

static void pmcsr_write(Fixture *f, uint16_t val)
{
    qpci_config_writew(f->dev, PM_CAP + PCI_PM_CTRL, val);
}

/*
 * Guards the capability layout: the ich9 IDs, D0/D3hot at the ICH's
 * offset 0x50, MSI where stock puts it; a stock controller beside it
 * keeps its IDs and has no PM capability.
 */
static void test_capability(void)
{
    Fixture f;
    QPCIDevice *stock;
    uint16_t pmc;

    fixture_start(&f, "-device ich9-intel-hda,addr=05.0");
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_VENDOR_ID), ==, 0x8086);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_DEVICE_ID), ==, 0x293e);
    g_assert_true(qpci_config_readw(f.dev, PCI_STATUS) & PCI_STATUS_CAP_LIST);
    g_assert_cmphex(qpci_config_readb(f.dev, PM_CAP), ==, PCI_CAP_ID_PM);
    pmc = qpci_config_readw(f.dev, PM_CAP + PCI_PM_PMC);
    g_assert_cmphex(pmc & (PCI_PM_CAP_D1 | PCI_PM_CAP_D2 |
                           PCI_PM_CAP_PME_MASK), ==, 0);
    g_assert_cmphex(qpci_config_readb(f.dev, MSI_CAP), ==, PCI_CAP_ID_MSI);

    stock = qpci_device_find(f.bus, STOCK_DEVFN);
    g_assert_nonnull(stock);
    g_assert_cmphex(qpci_config_readw(stock, PCI_DEVICE_ID), ==, 0x293e);
    g_assert_cmphex(qpci_config_readb(stock, PM_CAP), !=, PCI_CAP_ID_PM);
    g_free(stock);
    paiov_assert_state(f.qts, "idle");
    fixture_stop(&f);
}

/*
 * Guards the codec power states: every SET_POWER_STATE D0..D3 on the
 * function group and on a widget is answered by GET_POWER_STATE with
 * PS-Set and PS-Act (a widget is never more awake than its function
 * group).  Stock hda-duplex answered 0 (D0) to everything.
 */
static void test_power_verbs(void)
{
    Fixture f;
    uint32_t afg, w;

    fixture_start(&f, NULL);
    g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==, 0x00);
    for (afg = 0; afg <= 3; afg++) {
        g_assert_cmphex(verb(&f, NID_AFG, VERB_SET_POWER, afg), ==, 0);
        g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==,
                        afg | afg << 4);
        for (w = 0; w <= 3; w++) {
            verb(&f, NID_DAC, VERB_SET_POWER, w);
            g_assert_cmphex(verb(&f, NID_DAC, VERB_GET_POWER, 0), ==,
                            w | MAX(w, afg) << 4);
        }
    }
    fixture_stop(&f);
}

/*
 * Guards against guest misuse: D3cold (not supported), reserved states
 * and reserved payload bits, the root node and a node the codec does not
 * have are logged as guest errors and change nothing; the link goes on.
 */
static void test_power_verbs_invalid(void)
{
    Fixture f;
    g_autofree char *log = NULL;
    uint32_t ps;

    fixture_start_log(&f, NULL, true);

    verb(&f, NID_AFG, VERB_SET_POWER, 2);
    for (ps = 4; ps <= 0xf; ps++) {
        g_assert_cmphex(verb(&f, NID_AFG, VERB_SET_POWER, ps), ==, 0);
        g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==, 0x22);
    }
    verb(&f, NID_AFG, VERB_SET_POWER, 0x13);
    g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==, 0x22);
    g_assert_cmphex(verb(&f, NID_NONE, VERB_SET_POWER, 3), ==, 0);
    g_assert_cmphex(verb(&f, NID_NONE, VERB_GET_POWER, 0), ==, 0);
    g_assert_cmphex(verb(&f, NID_ROOT, VERB_SET_POWER, 3), ==, 0);
    g_assert_cmphex(verb(&f, NID_ROOT, VERB_GET_POWER, 0), ==, 0);
    /* and the codec still works */
    verb(&f, NID_AFG, VERB_SET_POWER, 0);
    g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==, 0x00);
    log = fixture_stop(&f);

    g_assert_nonnull(strstr(log, "node 1: power state 0x4 is reserved"));
    g_assert_nonnull(strstr(log, "node 1: power state 0xf is reserved"));
    g_assert_nonnull(strstr(log, "node 1: power state 0x13 is reserved"));
    g_assert_nonnull(strstr(log, "node 31, which has no power state"));
    g_assert_nonnull(strstr(log, "node 0, which has no power state"));
}

/*
 * Guards the state from the RUN bits and the function group: active
 * while a stream runs and the codec is in D0, idle when the stream
 * stops or the function group goes to D3 (the corks follow).
 */
static void test_run(void)
{
    Fixture f;
    g_autofree char *a1 = NULL, *a2 = NULL, *a3 = NULL;

    fixture_start(&f, NULL);
    verb(&f, NID_DAC, VERB_SET_STREAMID, 0x10);
    stream_run(&f, true);
    paiov_assert_state(f.qts, "active");
    a1 = paiov_audio_action(f.qts);
    g_assert_cmpstr(a1, ==, "run");
    stream_run(&f, false);
    paiov_assert_state(f.qts, "idle");
    /* toward less power: after the PMA's debounce */
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    a2 = paiov_audio_action(f.qts);
    g_assert_cmpstr(a2, ==, "cork");

    stream_run(&f, true);
    paiov_assert_state(f.qts, "active");
    verb(&f, NID_AFG, VERB_SET_POWER, 3);
    paiov_assert_state(f.qts, "idle");
    verb(&f, NID_AFG, VERB_SET_POWER, 0);
    paiov_assert_state(f.qts, "active");
    verb(&f, NID_AFG, VERB_SET_POWER, 3);
    stream_run(&f, false);
    stream_run(&f, true);
    paiov_assert_state(f.qts, "idle");
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    a3 = paiov_audio_action(f.qts);
    g_assert_cmpstr(a3, ==, "cork");

    /* a controller reset (GCTL.CRST) wakes the codec: D0, idle */
    qpci_io_writel(f.dev, f.bar, REG_GCTL, 0);
    qpci_io_writel(f.dev, f.bar, REG_GCTL, 1);
    g_assert_cmphex(verb(&f, NID_AFG, VERB_GET_POWER, 0), ==, 0x00);
    paiov_assert_state(f.qts, "idle");
    fixture_stop(&f);
}

/* Guards D3hot of the controller: release, and back to D0 */
static void test_d3hot(void)
{
    Fixture f;
    g_autofree char *a1 = NULL, *a2 = NULL;

    fixture_start(&f, NULL);
    verb(&f, NID_DAC, VERB_SET_STREAMID, 0x10);
    stream_run(&f, true);
    paiov_assert_state(f.qts, "active");
    pmcsr_write(&f, 3);
    paiov_assert_state(f.qts, "d3hot");
    g_assert_cmphex(qpci_config_readw(f.dev, PM_CAP + PCI_PM_CTRL) & 3, ==,
                    3);
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    a1 = paiov_audio_action(f.qts);
    g_assert_cmpstr(a1, ==, "release");
    pmcsr_write(&f, 0);
    paiov_assert_state(f.qts, "active");
    a2 = paiov_audio_action(f.qts);
    g_assert_cmpstr(a2, ==, "run");

    pmcsr_write(&f, 3);
    qtest_qmp_assert_success(f.qts, "{ 'execute': 'system_reset' }");
    qtest_qmp_eventwait(f.qts, "RESET");
    paiov_assert_state(f.qts, "idle");
    fixture_stop(&f);
}

/* Output stream 0 plays 4 KiB at @buf (zeroes: silence), one BDL entry */
static void stream_setup(Fixture *f, uint64_t bdl, uint64_t buf)
{
    qtest_writeq(f->qts, bdl, buf);
    qtest_writel(f->qts, bdl + 8, 0x1000);
    qtest_writel(f->qts, bdl + 12, 0);
    qpci_io_writel(f->dev, f->bar, REG_OSD0_CTL + 0x08, 0x1000); /* CBL */
    qpci_io_writew(f->dev, f->bar, REG_OSD0_CTL + 0x0c, 0);      /* LVI */
    qpci_io_writel(f->dev, f->bar, REG_OSD0_CTL + 0x18, bdl);    /* BDPL */
    qpci_io_writel(f->dev, f->bar, REG_OSD0_CTL + 0x1c, 0);      /* BDPU */
}

/*
 * Guards passive idle on silence: an output stream left running on
 * zeroes goes passive-idle after the PMA's idle timeout (its register
 * accesses are no sign of use), and the first non-zero sample fetched by
 * DMA wakes it.
 */
static void test_passive_idle(void)
{
    Fixture f;
    uint64_t bdl = 0x100000, buf = 0x200000;
    uint8_t tone[256];
    int i;

    fixture_start(&f, "-object paiov-pma,id=pma0,idle-timeout-ms=200 "
                  "-global ich9-intel-hda-paiov.pma=pma0");
    stream_setup(&f, bdl, buf);
    verb(&f, NID_DAC, VERB_SET_STREAMID, 0x10);
    stream_run(&f, true);
    paiov_assert_state(f.qts, "active");
    for (i = 0; i < 10; i++) {
        qtest_clock_step(f.qts, 100 * SCALE_MS);
    }
    paiov_assert_state(f.qts, "passive-idle");

    for (i = 0; i < sizeof(tone); i++) {
        tone[i] = i * 7 + 1;
    }
    for (i = 0; i < 0x1000; i += sizeof(tone)) {
        qtest_memwrite(f.qts, buf + i, tone, sizeof(tone));
    }
    qtest_clock_step(f.qts, 20 * SCALE_MS);
    paiov_assert_state(f.qts, "active");
    fixture_stop(&f);
}

/*
 * Play a counter through codec 0's DAC into a wav audiodev whose timer
 * (@timer_period_us) lets the codec's output buffer fill up between two
 * of its ticks, as a host stream that takes nothing for a while does
 * (PulseAudio after an uncork, a host that is late).  Every frame of the
 * guest's ring buffer holds its index in both channels; the frames that
 * reached the wav file are read back when QEMU has quit.
 */
#define WHOLE_FRAMES 16384          /* 64 KiB ring: indexes 0 to 16383 */
/* 44.1 kHz (the audiodev's), 16 bits, 2 channels: nothing is resampled */
#define HDA_FMT 0x4011
#define REG_OSD0_LPIB (REG_OSD0_CTL + 0x04)

typedef struct WavPlay {
    Fixture f;
    char *wav;
} WavPlay;

/* QEMU with @codec on a wav audiodev (@extra: more options, or "") */
static void wav_play_qemu(WavPlay *p, const char *codec, int timer_period_us,
                          const char *extra)
{
    int fd;

    fd = g_file_open_tmp("hda-paiov-whole-XXXXXX.wav", &p->wav, NULL);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    p->f.qts = qtest_initf("-M pc -audiodev wav,id=snd0,path=%s,"
                           "timer-period=%d "
                           "-device ich9-intel-hda-paiov,id=hda,addr=04.0 "
                           "-device %s,audiodev=snd0,bus=hda.0,mixer=off %s",
                           p->wav, timer_period_us, codec, extra);
}

/* QEMU with @codec on a wav audiodev, the counter in guest memory */
static void wav_play_init(WavPlay *p, const char *codec, int timer_period_us)
{
    uint16_t *ring = g_new(uint16_t, WHOLE_FRAMES * 2);
    size_t i;

    wav_play_qemu(p, codec, timer_period_us, "");
    fixture_attach(&p->f);

    for (i = 0; i < WHOLE_FRAMES; i++) {
        ring[2 * i] = ring[2 * i + 1] = cpu_to_le16(i);
    }
    qtest_memwrite(p->f.qts, 0x200000, ring, WHOLE_FRAMES * 4);
    g_free(ring);
}

/*
 * Program output stream 0 (after a controller reset too) and set RUN: the
 * DMA starts again at frame 0 of the ring
 */
static void wav_play_run(WavPlay *p)
{
    Fixture *f = &p->f;
    uint64_t bdl = 0x100000, buf = 0x200000;

    /* one BDL entry: the whole ring */
    qtest_writeq(f->qts, bdl, buf);
    qtest_writel(f->qts, bdl + 8, WHOLE_FRAMES * 4);
    qtest_writel(f->qts, bdl + 12, 0);
    qpci_io_writel(f->dev, f->bar, REG_OSD0_CTL + 0x08, WHOLE_FRAMES * 4);
    qpci_io_writew(f->dev, f->bar, REG_OSD0_CTL + 0x0c, 0);       /* LVI */
    qpci_io_writew(f->dev, f->bar, REG_OSD0_CTL + 0x12, HDA_FMT);  /* FMT */
    qpci_io_writel(f->dev, f->bar, REG_OSD0_CTL + 0x18, bdl);     /* BDPL */
    qpci_io_writel(f->dev, f->bar, REG_OSD0_CTL + 0x1c, 0);       /* BDPU */
    verb(f, NID_DAC, VERB_SET_FORMAT_HI | HDA_FMT >> 8, HDA_FMT & 0xff);
    verb(f, NID_DAC, VERB_SET_STREAMID, 0x10);
    stream_run(f, true);
}

/* Let the virtual clock run @ms in the audio timer's steps */
static void wav_play_step(WavPlay *p, int ms)
{
    int i;

    for (i = 0; i < ms / 10; i++) {
        qtest_clock_step(p->f.qts, 10 * SCALE_MS);
    }
}

/*
 * Clear RUN; returns the frames the codec fetched from the ring since
 * RUN was set (LPIB: the ring never wraps in these tests)
 */
static uint32_t wav_play_stop(WavPlay *p)
{
    stream_run(&p->f, false);
    return qpci_io_readl(p->f.dev, p->f.bar, REG_OSD0_LPIB) / 4;
}

/* Quit QEMU (the wav backend writes its header then); the frames played */
static GArray *wav_play_finish(WavPlay *p)
{
    GArray *frames = g_array_new(false, false, sizeof(uint16_t));
    g_autofree char *data = NULL;
    gsize len;
    size_t i;

    fixture_stop(&p->f);
    g_assert_true(g_file_get_contents(p->wav, &data, &len, NULL));
    unlink(p->wav);
    g_free(p->wav);
    g_assert_cmpuint(len, >=, 44);
    for (i = 44; i + 4 <= len; i += 4) {
        uint16_t l = lduw_le_p(data + i), r = lduw_le_p(data + i + 2);

        g_assert_cmpuint(l, ==, r);
        g_array_append_val(frames, l);
    }
    return frames;
}

/* Play the counter for @play_ms, stop, quit: the frames that were played */
static GArray *play_counter(const char *codec, int timer_period_us,
                            int play_ms)
{
    WavPlay p;

    wav_play_init(&p, codec, timer_period_us);
    wav_play_run(&p);
    wav_play_step(&p, play_ms);
    stream_run(&p.f, false);
    return wav_play_finish(&p);
}

/* Frames of @frames that do not follow the frame before them */
static unsigned counter_gaps(GArray *frames)
{
    unsigned gaps = 0;
    size_t i;

    for (i = 1; i < frames->len; i++) {
        uint16_t prev = g_array_index(frames, uint16_t, i - 1);
        uint16_t cur = g_array_index(frames, uint16_t, i);

        gaps += cur != (prev + 1) % WHOLE_FRAMES;
    }
    return gaps;
}

/*
 * Guards the guest-to-host path against the codec's overrun: a host
 * stream that takes nothing for longer than the codec's output buffer
 * (8 KiB, 46 ms) lasts made stock hda-codec drop the buffer
 * whole (trace hda_audio_overrun), which cut ~46 ms out of the sound
 * after PulseAudio resumed a corked stream.  A paiov codec keeps it: what
 * the guest plays reaches the host in order, with nothing missing, while
 * the guest's DMA waits for the host.  The audio timer ticks every 60 ms
 * here; the stock codec beside it shows that the test can tell.
 */
static void test_output_whole(void)
{
    GArray *paiov = play_counter("hda-duplex-paiov", 60000, 1000);
    GArray *stock = play_counter("hda-duplex", 60000, 1000);

    g_assert_cmpuint(paiov->len, >, 0);
    g_assert_cmpuint(g_array_index(paiov, uint16_t, 0), ==, 0);
    g_assert_cmpuint(counter_gaps(paiov), ==, 0);
    /* stock drops its full buffer at every tick: nothing, or with gaps */
    g_assert_true(stock->len == 0 || counter_gaps(stock) > 0);
    g_array_free(paiov, true);
    g_array_free(stock, true);
}

/*
 * Frames of @frames from @from on: a counter from 0 without a gap; returns
 * where it ends (the index of the first frame after it)
 */
static size_t counter_run(GArray *frames, size_t from)
{
    size_t i;

    g_assert_cmpuint(from, <, frames->len);
    g_assert_cmpuint(g_array_index(frames, uint16_t, from), ==, 0);
    for (i = from + 1; i < frames->len; i++) {
        if (g_array_index(frames, uint16_t, i) !=
            g_array_index(frames, uint16_t, i - 1) + 1) {
            break;
        }
    }
    return i;
}

/* The frames of @ms of sound at 44.1 kHz */
#define TAIL_FRAMES(ms) ((ms) * 441 / 10)

/*
 * The stream plays @ms, RUN is cleared, the clock runs 200 ms: no timer
 * of the device is left armed.  Returns the frames fetched by DMA.
 */
static uint32_t wav_play_for(WavPlay *p, int ms)
{
    uint32_t fetched;

    wav_play_step(p, ms);
    fetched = wav_play_stop(p);
    wav_play_step(p, 200);
    g_assert_false(paiov_timer_armed(p->f.qts));
    return fetched;
}

/* From @end on, @frames hold a second stream whole (more than 100 ms) */
static void assert_second_stream(GArray *frames, size_t end)
{
    g_assert_cmpuint(end, <, frames->len);
    g_assert_cmpuint(counter_run(frames, end), ==, frames->len);
    g_assert_cmpuint(frames->len - end, >, TAIL_FRAMES(100));
}

/*
 * Play the counter for @play_ms on @codec, clear RUN, let the clock run
 * 200 ms: the frames fetched from the ring by DMA and the frames played
 */
static GArray *play_stop(const char *codec, int play_ms, uint32_t *fetched)
{
    WavPlay p;

    wav_play_init(&p, codec, 10000);
    wav_play_run(&p);
    *fetched = wav_play_for(&p, play_ms);
    return wav_play_finish(&p);
}

/*
 * Guards the tail of a sound: when the guest clears RUN, what the codec
 * had fetched but not yet handed to its voice (up to its 8 KiB buffer,
 * 46 ms) was dropped, because the voice was disabled at once; Linux's
 * snd-hda-intel stops a stream just after its DMA reached the end, so
 * every sound lost its last 10 to 40 ms.  A paiov codec plays it out
 * (the DMA stopped, the voice active until the buffer is empty): every
 * frame the DMA fetched (LPIB) reaches the host, in order.  Also guards
 * the audio core's disable of the voice (patch 0027): the last frames
 * handed to the wav backend were still in its output buffer, rate-limited
 * to the virtual clock, and were lost (9702 frames played of 10231
 * fetched).  The stock codec beside it drops what its buffer held at the
 * stop (8820 frames played), deterministically under the virtual clock.
 */
static void test_output_tail(void)
{
    uint32_t fetched, fetched_stock;
    GArray *paiov = play_stop("hda-duplex-paiov", 200, &fetched);
    GArray *stock = play_stop("hda-duplex", 200, &fetched_stock);

    g_test_message("fetched %u frames, played %u (paiov); "
                   "fetched %u, played %u (stock)", fetched, paiov->len,
                   fetched_stock, stock->len);
    g_assert_cmpuint(fetched, >, 0);
    g_assert_cmpuint(counter_run(paiov, 0), ==, paiov->len);
    /* 200 ms of sound and the codec's buffer, at least 10 ms of it */
    g_assert_cmpuint(paiov->len, >=, TAIL_FRAMES(200) + TAIL_FRAMES(10));
    g_assert_cmpuint(paiov->len, ==, fetched);
    /* upstream: the codec's buffer (at least 10 ms) is dropped at the stop */
    g_assert_cmpuint(counter_run(stock, 0), ==, stock->len);
    g_assert_cmpuint(stock->len + TAIL_FRAMES(10), <=, fetched_stock);
    g_array_free(paiov, true);
    g_array_free(stock, true);
}

/*
 * Guards a start during the drain: it is a new stream, as a start always
 * was (the codec's buffer emptied, the DMA from the start of the ring),
 * and the voice goes on playing it, to its end after the next stop.
 */
static void test_output_tail_restart(void)
{
    WavPlay p;
    GArray *frames;
    uint32_t first, second;
    size_t end;

    wav_play_init(&p, "hda-duplex-paiov", 10000);
    wav_play_run(&p);
    wav_play_step(&p, 200);
    first = wav_play_stop(&p);
    stream_run(&p.f, true);
    second = wav_play_for(&p, 100);
    frames = wav_play_finish(&p);

    g_test_message("fetched %u then %u frames, played %u", first, second,
                   frames->len);
    /* the first stream up to where the restart cut it */
    end = counter_run(frames, 0);
    g_assert_cmpuint(end, <=, first);
    /* the second one whole */
    assert_second_stream(frames, end);
    g_array_free(frames, true);
}

enum {
    CUT_RESET,      /* a controller reset (GCTL.CRST) resets the codec */
    CUT_AFG_D3,     /* the codec's function group goes to D3 */
    CUT_D3HOT,      /* the controller goes to D3hot */
    CUT_QUIT,       /* QEMU exits (the codec is unrealized) */
};

/*
 * Guards the end of a drain by what stops a voice: the voice is
 * disabled at once (the rest of the tail dropped), the timers stop, no
 * voice stays active; after a reset, a new stream plays whole.  Quitting
 * during a drain frees the voice under it (ASAN's run of this test).
 */
static void drain_cut(int how)
{
    WavPlay p;
    GArray *frames;
    uint32_t first, second = 0;
    size_t end;

    wav_play_init(&p, "hda-duplex-paiov", 10000);
    wav_play_run(&p);
    wav_play_step(&p, 200);
    first = wav_play_stop(&p);
    switch (how) {
    case CUT_RESET:
        qpci_io_writel(p.f.dev, p.f.bar, REG_GCTL, 0);
        qpci_io_writel(p.f.dev, p.f.bar, REG_GCTL, 1);
        break;
    case CUT_AFG_D3:
        verb(&p.f, NID_AFG, VERB_SET_POWER, 3);
        break;
    case CUT_D3HOT:
        pmcsr_write(&p.f, 3);
        break;
    }
    if (how != CUT_QUIT) {
        wav_play_step(&p, 200);
        g_assert_false(paiov_timer_armed(p.f.qts));
    }
    if (how == CUT_RESET) {
        wav_play_run(&p);
        second = wav_play_for(&p, 100);
    }
    frames = wav_play_finish(&p);

    g_test_message("fetched %u then %u frames, played %u", first, second,
                   frames->len);
    end = counter_run(frames, 0);
    g_assert_cmpuint(end, <, first);
    if (how == CUT_RESET) {
        assert_second_stream(frames, end);
    } else {
        g_assert_cmpuint(end, ==, frames->len);
    }
    g_array_free(frames, true);
}

static void test_output_tail_reset(void)
{
    drain_cut(CUT_RESET);
}

static void test_output_tail_afg_d3(void)
{
    drain_cut(CUT_AFG_D3);
}

static void test_output_tail_d3hot(void)
{
    drain_cut(CUT_D3HOT);
}

static void test_output_tail_quit(void)
{
    drain_cut(CUT_QUIT);
}

/*
 * Guards migration during a drain: the drain is not migrated (its tail
 * is lost on the destination, by design), but the destination's stream
 * is stopped with no voice left active (the timers stop), and a new
 * stream there plays whole.
 */
static void test_output_tail_migrate(void)
{
    WavPlay p, dst;
    g_autofree char *uri = NULL;
    g_autofree char *incoming = NULL;
    GArray *src_frames, *frames;

    wav_play_init(&p, "hda-duplex-paiov", 10000);
    wav_play_run(&p);
    wav_play_step(&p, 200);
    wav_play_stop(&p);
    uri = paiov_migrate_to_file(p.f.qts, "intel-hda-paiov");

    incoming = g_strdup_printf("-incoming %s", uri);
    wav_play_qemu(&dst, "hda-duplex-paiov", 10000, incoming);
    paiov_wait_running(dst.f.qts);
    fixture_attach(&dst.f);
    wav_play_step(&dst, 200);
    g_assert_false(paiov_timer_armed(dst.f.qts));
    wav_play_run(&dst);
    wav_play_for(&dst, 100);
    frames = wav_play_finish(&dst);
    src_frames = wav_play_finish(&p);
    unlink(uri + strlen("file:"));

    g_test_message("source played %u frames, destination %u",
                   src_frames->len, frames->len);
    g_assert_cmpuint(counter_run(frames, 0), ==, frames->len);
    g_assert_cmpuint(frames->len, >, TAIL_FRAMES(100));
    g_array_free(src_frames, true);
    g_array_free(frames, true);
}

/*
 * A private PulseAudio daemon (a null sink, a unix socket in its own
 * directory), as the end-to-end tests start one; NULL if there is no
 * pulseaudio to run.
 */
typedef struct PrivatePulse {
    char *dir;
    char *server;
    GPid pid;
} PrivatePulse;

static gchar **pulse_env(PrivatePulse *pa)
{
    gchar **env = g_get_environ();
    const char *vars[] = {
        "HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "PULSE_RUNTIME_PATH",
        "PULSE_STATE_PATH",
    };
    int i;

    for (i = 0; i < ARRAY_SIZE(vars); i++) {
        env = g_environ_setenv(env, vars[i], pa->dir, true);
    }
    return env;
}

static char *pulse_pactl(PrivatePulse *pa, const char *what)
{
    g_auto(GStrv) env = pulse_env(pa);
    const char *argv[] = { "pactl", "-s", pa->server, "list", what, NULL };
    char *out = NULL;
    int status;

    if (!g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_SEARCH_PATH |
                      G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                      &status, NULL) ||
        !WIFEXITED(status) || WEXITSTATUS(status)) {
        g_free(out);
        return NULL;
    }
    return out;
}

/* The daemon goes when the test does, even when an assertion aborts it */
static void pulse_child_setup(gpointer opaque)
{
#ifdef CONFIG_LINUX
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
}

static PrivatePulse *pulse_start(void)
{
    PrivatePulse *pa = g_new0(PrivatePulse, 1);
    g_autofree char *conf = NULL, *text = NULL, *daemon = NULL;
    g_autofree char *pactl = NULL;
    g_auto(GStrv) env = NULL;
    int i;

    daemon = g_find_program_in_path("pulseaudio");
    pactl = g_find_program_in_path("pactl");
    if (!daemon || !pactl) {
        g_free(pa);
        return NULL;
    }
    pa->dir = g_dir_make_tmp("hda-paiov-pulse-XXXXXX", NULL);
    g_assert_nonnull(pa->dir);
    pa->server = g_strdup_printf("unix:%s/native", pa->dir);
    conf = g_build_filename(pa->dir, "default.pa", NULL);
    text = g_strdup_printf("load-module module-null-sink sink_name=null\n"
                           "load-module module-native-protocol-unix "
                           "socket=%s/native auth-anonymous=1\n", pa->dir);
    g_assert_true(g_file_set_contents(conf, text, -1, NULL));
    env = pulse_env(pa);
    {
        const char *argv[] = {
            daemon, "-n", "-F", conf, "--daemonize=no",
            "--exit-idle-time=-1", "--use-pid-file=no", "--disallow-exit",
            "--log-target=stderr", NULL
        };

        g_assert_true(g_spawn_async(NULL, (char **)argv, env,
                                    G_SPAWN_DO_NOT_REAP_CHILD |
                                    G_SPAWN_STDOUT_TO_DEV_NULL |
                                    G_SPAWN_STDERR_TO_DEV_NULL,
                                    pulse_child_setup, NULL, &pa->pid,
                                    NULL));
    }
    for (i = 0; i < 200; i++) {
        g_autofree char *out = pulse_pactl(pa, "sinks");

        if (out) {
            return pa;
        }
        g_usleep(100 * 1000);
    }
    g_assert_not_reached();
}

static void pulse_stop(PrivatePulse *pa)
{
    g_autofree char *rm = g_strdup_printf("rm -rf %s", pa->dir);

    kill(pa->pid, SIGTERM);
    waitpid(pa->pid, NULL, 0);
    g_spawn_close_pid(pa->pid);
    g_assert_cmpint(system(rm), ==, 0);
    g_free(pa->dir);
    g_free(pa->server);
    g_free(pa);
}

/* The daemon's playback streams, and how many of them are corked */
static void pulse_sink_inputs(PrivatePulse *pa, int *inputs, int *corked)
{
    g_autofree char *out = pulse_pactl(pa, "sink-inputs");
    g_auto(GStrv) lines = g_strsplit(out ?: "", "\n", -1);
    int i;

    *inputs = *corked = 0;
    for (i = 0; lines[i]; i++) {
        const char *l = g_strstrip(lines[i]);

        *inputs += g_str_has_prefix(l, "Sink Input #");
        *corked += !strcmp(l, "Corked: yes");
    }
}

/*
 * Wait (in real time: the daemon answers in its own time) until the
 * daemon has @inputs playback streams with @corked of them corked, or
 * give up after 20 s; returns how many are corked
 */
static int pulse_wait_corked(PrivatePulse *pa, int inputs, int corked)
{
    int n = -1, c = -1, i;

    for (i = 0; i < 200; i++) {
        pulse_sink_inputs(pa, &n, &c);
        if (n == inputs && c == corked) {
            break;
        }
        g_usleep(100 * 1000);
    }
    g_assert_cmpint(n, ==, inputs);
    return c;
}

/*
 * Guards host power for every paiov codec on the link: with an
 * hda-duplex-paiov and an hda-output-paiov on one controller (each with
 * its audiodev, so each has its own PulseAudio stream), only the
 * first codec's sound card was the controller's, so the second codec's
 * PulseAudio stream was never corked while the controller was idle (its
 * sink could not suspend).  Both are corked now, and both run again when
 * the second codec plays.
 */
static void test_two_codecs(void)
{
    PrivatePulse *pa = pulse_start();
    Fixture f;

    if (!pa) {
        g_test_skip("pulseaudio or pactl not found");
        return;
    }
    f.qts = qtest_initf("-M pc -audiodev pa,id=snd0,server=%s "
                        "-audiodev pa,id=snd1,server=%s "
                        "-device ich9-intel-hda-paiov,id=hda,addr=04.0 "
                        "-device hda-duplex-paiov,audiodev=snd0,bus=hda.0,"
                        "cad=0 "
                        "-device hda-output-paiov,audiodev=snd1,bus=hda.0,"
                        "cad=1", pa->server, pa->server);
    fixture_attach(&f);

    /* idle from the start: both codecs' playback streams corked */
    paiov_assert_state(f.qts, "idle");
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    g_assert_cmpint(pulse_wait_corked(pa, 2, 2), ==, 2);

    /* the second codec plays: active, both resumed */
    /* codec 1's DAC takes stream 1 (the codec address in ICW 31:28) */
    verb_to(f.dev, f.bar, 1, NID_DAC, VERB_SET_STREAMID, 0x10);
    stream_run(&f, true);
    paiov_assert_state(f.qts, "active");
    g_assert_cmpint(pulse_wait_corked(pa, 2, 0), ==, 0);

    /* idle again: after the PMA's debounce, both corked */
    stream_run(&f, false);
    paiov_assert_state(f.qts, "idle");
    qtest_clock_step(f.qts, 1000 * SCALE_MS);
    g_assert_cmpint(pulse_wait_corked(pa, 2, 2), ==, 2);

    fixture_stop(&f);
    pulse_stop(pa);
}

/*
 * Pooling of the audio timers (issue 13 item 4): the grid of pma0 is on
 * the virtual clock under qtest, a tick every 10 ms at 3 ms; the
 * audiodevs' timers tick every 10 ms (timer-period's default).
 */
#define GRID_PERIOD (10 * SCALE_MS)
#define GRID_PHASE (3 * SCALE_MS)
#define GRID_PMA "align-period-us=10000,align-phase-us=3000,max-delay-ms=50"
#define HDA "/machine/peripheral/hda"
#define PMA0 "/objects/pma0"
#define PMA1 "/objects/pma1"

/*
 * Step the clock to half-way between two ticks of the grid, late enough
 * that the next state change is sent at once (the events' rate limit
 * would hold it back to a tick, an aligned deadline of its own)
 */
static int64_t clock_half_tick(QTestState *qts)
{
    /* no PAIOV_POWER_STATE_CHANGE in the last second: none held back */
    int64_t t0 = qtest_clock_step(qts, 2000 * SCALE_MS);

    t0 = qtest_clock_step(qts, (GRID_PHASE + GRID_PERIOD / 2 -
                                t0 % GRID_PERIOD + 2 * GRID_PERIOD) %
                               GRID_PERIOD);
    g_assert_cmpint((t0 - GRID_PHASE) % GRID_PERIOD, ==, GRID_PERIOD / 2);
    return t0;
}

/* One integer of the query-paiov entry of the device at @path */
static int64_t dev_int(QTestState *qts, const char *path, const char *key)
{
    QDict *info = paiov_device_info(qts, path);
    int64_t v = qdict_get_int(info, key);

    qobject_unref(info);
    return v;
}

/*
 * The wakeups of the controller @path (its codecs' audio timers'
 * expiries) go up by one at @t1 and at each of the next two periods, not
 * 1 ns before
 */
static void assert_ticks_at(QTestState *qts, const char *path, int64_t t1)
{
    int64_t w0 = dev_int(qts, path, "wakeups");

    for (int i = 0; i < 3; i++) {
        qtest_clock_set(qts, t1 + i * GRID_PERIOD - 1);
        g_assert_cmpint(dev_int(qts, path, "wakeups"), ==, w0 + i);
        qtest_clock_set(qts, t1 + i * GRID_PERIOD);
        g_assert_cmpint(dev_int(qts, path, "wakeups"), ==, w0 + i + 1);
    }
}

/*
 * Guards pooling of a second codec on its own audiodev: its card follows
 * the controller's (the first codec's), and its audiodev snd1 has its own
 * audio timer.  Only the leader card's audiodev was aligned: snd1's timer
 * fired one period after the stream started, half-way between two
 * ticks, and pma0 aligned nothing.  Now it waits for the tick (5 ms,
 * within max-delay-ms) and then stays on the grid.
 */
static void test_align_follower(void)
{
    uint64_t bdl = 0x100000, buf = 0x200000;
    Fixture f;
    int64_t t0;

    f.qts = qtest_initf("-M pc -audiodev none,id=snd0 "
                        "-audiodev none,id=snd1 "
                        "-object paiov-pma,id=pma0,idle-timeout-ms=0,"
                        GRID_PMA " "
                        "-device ich9-intel-hda-paiov,id=hda,addr=04.0,"
                        "pma=pma0 "
                        "-device hda-duplex-paiov,audiodev=snd0,bus=hda.0,"
                        "cad=0 "
                        "-device hda-output-paiov,audiodev=snd1,bus=hda.0,"
                        "cad=1");
    fixture_attach(&f);
    stream_setup(&f, bdl, buf);
    verb_to(f.dev, f.bar, 1, NID_DAC, VERB_SET_STREAMID, 0x10);

    t0 = clock_half_tick(f.qts);
    stream_run(&f, true);
    paiov_assert_state(f.qts, "active");
    assert_ticks_at(f.qts, HDA, t0 + GRID_PERIOD + GRID_PERIOD / 2);
    g_assert_cmpint(paiov_coord_int(f.qts, PMA0, "aligned"), >=, 1);
    g_assert_cmpint(paiov_coord_int(f.qts, PMA0, "max-observed-delay-ns"), ==,
                    GRID_PERIOD / 2);
    fixture_stop(&f);
}

/*
 * Guards the rule for an audiodev shared by cards of two PMAs: its one
 * timer fires at the earlier of the times they give, so the strict PMA
 * wins and the timer is never moved; the relaxed PMA, whose controller
 * plays, counts nothing it did not do.  The timer was aligned to the grid
 * of the PMA whose device changed state last (the relaxed one here).
 */
static void test_align_shared_strict(void)
{
    uint64_t bdl = 0x100000, buf = 0x200000;
    Fixture f;
    int64_t t0;
    QDict *info;

    f.qts = qtest_initf("-M pc -audiodev none,id=snd0 "
                        "-object paiov-pma,id=pma0,idle-timeout-ms=0,"
                        GRID_PMA " "
                        "-object paiov-pma,id=pma1,idle-timeout-ms=0,"
                        GRID_PMA ",sla=strict "
                        "-device ich9-intel-hda-paiov,id=hda,addr=04.0,"
                        "pma=pma0 "
                        "-device hda-duplex-paiov,audiodev=snd0,bus=hda.0 "
                        "-device ich9-intel-hda-paiov,id=hda1,addr=05.0,"
                        "pma=pma1 "
                        "-device hda-duplex-paiov,audiodev=snd0,bus=hda1.0");
    fixture_attach(&f);
    stream_setup(&f, bdl, buf);
    verb(&f, NID_DAC, VERB_SET_STREAMID, 0x10);

    t0 = clock_half_tick(f.qts);
    stream_run(&f, true);
    info = paiov_device_info(f.qts, HDA);
    g_assert_cmpstr(qdict_get_str(info, "state"), ==, "active");
    qobject_unref(info);
    assert_ticks_at(f.qts, HDA, t0 + GRID_PERIOD);
    g_assert_cmpint(paiov_coord_int(f.qts, PMA0, "aligned"), ==, 0);
    g_assert_cmpint(paiov_coord_int(f.qts, PMA1, "aligned"), ==, 0);
    g_assert_cmpint(paiov_coord_int(f.qts, PMA1, "not-aligned"), >=, 3);
    fixture_stop(&f);
}

enum {
    MIG_IDLE,
    MIG_ACTIVE,
    MIG_AFG_D3,
    MIG_D3HOT,
};

/*
 * Guards migration of the power state: the destination ends up in the
 * source's state (codec power states included) and re-applies the host
 * action itself.
 */
static void migrate_in_state(int which)
{
    static const char *const states[] = {
        "idle", "active", "idle", "d3hot"
    };
    static const char *const actions[] = {
        "cork", "run", "cork", "release"
    };
    Fixture f;
    QTestState *dst;
    g_autofree char *uri = NULL;
    g_autofree char *action = NULL;
    QPCIBus *dst_bus;
    QPCIDevice *dst_dev;
    QPCIBar bar;

    fixture_start(&f, NULL);
    verb(&f, NID_DAC, VERB_SET_STREAMID, 0x10);
    verb(&f, NID_DAC, VERB_SET_POWER, 2);
    if (which != MIG_IDLE) {
        stream_run(&f, true);
    }
    if (which == MIG_AFG_D3) {
        verb(&f, NID_AFG, VERB_SET_POWER, 3);
    }
    if (which == MIG_D3HOT) {
        pmcsr_write(&f, 3);
    }
    paiov_assert_state(f.qts, states[which]);
    uri = paiov_migrate_to_file(f.qts, "intel-hda-paiov");

    dst = qtest_initf(ARGS "-incoming %s", uri);
    paiov_wait_running(dst);
    paiov_assert_state(dst, states[which]);
    action = paiov_audio_action(dst);
    g_assert_cmpstr(action, ==, actions[which]);

    dst_bus = qpci_new_pc(dst, NULL);
    dst_dev = qpci_device_find(dst_bus, PAIOV_DEVFN);
    bar = f.bar;
    qpci_config_writew(dst_dev, PM_CAP + PCI_PM_CTRL, 0);
    g_assert_cmphex(verb_on(dst_dev, bar, NID_AFG, VERB_GET_POWER, 0), ==,
                    which == MIG_AFG_D3 ? 0x33 : 0x00);
    g_assert_cmphex(verb_on(dst_dev, bar, NID_DAC, VERB_GET_POWER, 0), ==,
                    which == MIG_AFG_D3 ? 0x32 : 0x22);
    g_free(dst_dev);
    qpci_free_pc(dst_bus);

    qtest_quit(dst);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

static void test_migrate_idle(void)
{
    migrate_in_state(MIG_IDLE);
}

static void test_migrate_active(void)
{
    migrate_in_state(MIG_ACTIVE);
}

static void test_migrate_afg_d3(void)
{
    migrate_in_state(MIG_AFG_D3);
}

static void test_migrate_d3hot(void)
{
    migrate_in_state(MIG_D3HOT);
}

/*
 * Guards the cross-checks: a stream whose codec says its function group
 * is in D0 while the controller's record says it sleeps, or that claims
 * a power state above D3, is refused; the destination goes on.
 */
static void migrate_refused(const char *subsection, size_t off,
                            uint8_t byte)
{
    Fixture f;
    QTestState *dst;
    g_autofree char *uri = NULL;

    fixture_start(&f, NULL);
    verb(&f, NID_AFG, VERB_SET_POWER, 3);
    uri = paiov_migrate_to_file(f.qts, "intel-hda-paiov");
    paiov_stream_patch(uri, subsection, off, &byte, 1);
    dst = qtest_initf(ARGS "-incoming defer");
    paiov_migrate_in_refused(dst, uri);
    paiov_assert_alive_after_refusal(dst, PAIOV_DEVFN, 0x293e8086);
    qtest_quit(dst);
    fixture_stop(&f);
    unlink(uri + strlen("file:"));
}

static void test_migrate_afg_mismatch(void)
{
    migrate_refused("paiov-hda-audio/power", NID_AFG, 0);
}

static void test_migrate_bad_power(void)
{
    migrate_refused("paiov-hda-audio/power", NID_AFG, 7);
}

/*
 * Guards a failed hot-plug: device_add with a host device or a PMA that
 * does not exist fails naming it and leaves nothing on the bus; a good
 * controller then plugs into the same slot.
 */
static void test_hotplug_fails(void)
{
    QTestState *qts = qtest_init("-M pc -audiodev none,id=snd0 "
                                 "-object paiov-pma,id=pma0");
    int devfn = QPCI_DEVFN(6, 0);

    paiov_device_add_fails(qts, qdict_from_jsonf_nofail(
                           "{ 'driver': 'ich9-intel-hda-paiov',"
                           " 'id': 'bad1', 'bus': 'pci.0',"
                           " 'addr': '06.0',"
                           " 'host-device': '/nonexistent' }"),
                           "host-device", devfn);
    paiov_device_add_fails(qts, qdict_from_jsonf_nofail(
                           "{ 'driver': 'intel-hda-paiov',"
                           " 'id': 'bad2', 'bus': 'pci.0',"
                           " 'addr': '06.0', 'pma': 'nopma' }"),
                           "nopma", devfn);
    qtest_qmp_device_add(qts, "intel-hda-paiov", "good",
                         "{ 'bus': 'pci.0', 'addr': '06.0' }");
    g_assert_true(paiov_pci_listed(qts, devfn));
    g_assert_cmphex(paiov_cfg_readl(qts, devfn, 0), ==, 0x26688086);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/intel-hda-paiov/capability", test_capability);
    qtest_add_func("/intel-hda-paiov/power-verbs", test_power_verbs);
    qtest_add_func("/intel-hda-paiov/power-verbs-invalid",
                   test_power_verbs_invalid);
    qtest_add_func("/intel-hda-paiov/run", test_run);
    qtest_add_func("/intel-hda-paiov/d3hot", test_d3hot);
    qtest_add_func("/intel-hda-paiov/passive-idle", test_passive_idle);
    qtest_add_func("/intel-hda-paiov/output-whole", test_output_whole);
    qtest_add_func("/intel-hda-paiov/output-tail", test_output_tail);
    qtest_add_func("/intel-hda-paiov/output-tail/restart",
                   test_output_tail_restart);
    qtest_add_func("/intel-hda-paiov/output-tail/reset",
                   test_output_tail_reset);
    qtest_add_func("/intel-hda-paiov/output-tail/afg-d3",
                   test_output_tail_afg_d3);
    qtest_add_func("/intel-hda-paiov/output-tail/d3hot",
                   test_output_tail_d3hot);
    qtest_add_func("/intel-hda-paiov/output-tail/quit",
                   test_output_tail_quit);
    qtest_add_func("/intel-hda-paiov/output-tail/migrate",
                   test_output_tail_migrate);
    qtest_add_func("/intel-hda-paiov/two-codecs", test_two_codecs);
    qtest_add_func("/intel-hda-paiov/align/follower", test_align_follower);
    qtest_add_func("/intel-hda-paiov/align/shared-strict",
                   test_align_shared_strict);
    qtest_add_func("/intel-hda-paiov/migrate/idle", test_migrate_idle);
    qtest_add_func("/intel-hda-paiov/migrate/active", test_migrate_active);
    qtest_add_func("/intel-hda-paiov/migrate/afg-d3", test_migrate_afg_d3);
    qtest_add_func("/intel-hda-paiov/migrate/d3hot", test_migrate_d3hot);
    qtest_add_func("/intel-hda-paiov/migrate/afg-mismatch",
                   test_migrate_afg_mismatch);
    qtest_add_func("/intel-hda-paiov/migrate/bad-power",
                   test_migrate_bad_power);
    qtest_add_func("/intel-hda-paiov/hotplug-fails", test_hotplug_fails);

    return g_test_run();
}
