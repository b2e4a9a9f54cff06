/*
 * server.media._fastpath: the per-packet forwarding path, compiled: receive (Inlet) and copies (Outlet).
 *
 * Why this exists: in Python, a forwarded packet's own work (SRTP, header, statistics, sequence
 * rewriting, sendto: about 7 us a copy at N = 8 and 45 us a packet at N = 2, measured in place on
 * this project's machines) was more than the issue's budget. Here the same rules run in C: the ICE
 * socket's callback is an ``InletHook`` (unprotect, header, statistics, NACK bookkeeping, then the
 * source's ``on_rtp``), and the source makes one ``fan_out`` call that walks its sinks' outlets.
 *
 * This file holds mechanics only; the rules it follows are written out, and tested, in Python:
 * ``seam.guard.admit`` (what may enter an ICE socket, from where: checked before anything else),
 * ``seam.receive`` (``LeanReceiver``'s callback) and ``seam.inbound`` (``InboundTrack.on_srtp``/``_nack``),
 * ``forwarder.Sink.forward`` (sequence and timestamp rewriting, keyframe waits, lag) and
 * ``seam.send.LeanSender.send`` (RTP header, SRTP protect, NACK history, sendto). Both paths must
 * agree: ``tests/media/test_inlet.py`` and ``test_outlet.py`` run them side by side on the same
 * packets and compare what they hand on, count, NACK and put on the wire.
 *
 * It links against nothing: ``srtp_protect``/``srtp_unprotect`` and each SRTP context come as
 * addresses from pylibsrtp's cffi binding (``seam.compiled`` reads them there), and the Session
 * objects that own the contexts are kept referenced so a context outlives every use. An outlet sends
 * on a dup of the ICE socket's descriptor, so a number the event loop closes and reuses is never
 * written to.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HISTORY_SIZE 512 /* seam.send.HISTORY_SIZE */
#define HISTORY_MASK (HISTORY_SIZE - 1)
#define RESTART_WINDOW 512  /* forwarder.RESTART_WINDOW */
#define RESEND_INTERVAL 0.1 /* seam.send.RESEND_INTERVAL: a packet resent within this is not resent again */
#define RETRANSMIT_PERCENT 25 /* seam.send.RETRANSMIT_PERCENT: resent bytes, at most this % of bytes sent */
#define STALE_REPAIR_TICKS 90000 /* seam.send.STALE_REPAIR_TICKS: older video is not resent (a keyframe is asked) */
#define SRTP_BUFFER 1500    /* pylibsrtp Session's buffer */
#define SRTP_TRAILER 144    /* seam.transport.SRTP_TRAILER */
#define MAX_PLAIN (SRTP_BUFFER - SRTP_TRAILER)
#define MAX_EXTENSION 64
#define NTP_EPOCH_OFFSET 2208988800ULL

/* Outcomes of one copy, as ``Sink.forward`` + ``LeanSender.send`` decide them. */
enum { SENT = 0, SKIPPED = 1, NEEDS_KEYFRAME = 2, UNLINKED = 3, LAGGING = 4 };
#define WANT_KEYFRAME_FLAG (1 << 16)
#define UNLINKED_FLAG (1 << 17)

typedef int (*srtp_fn)(void *ctx, void *rtp, int *length);

static srtp_fn srtp_protect = NULL;
static srtp_fn srtp_unprotect = NULL;

/* libsrtp's functions and contexts come from Python as capsules of these names (server.media.seam.
 * compiled makes them from pylibsrtp's binding), never as bare integers: a number that is not one of
 * them is a TypeError here, not a jump to a wrong address. */
#define SRTP_FUNCTION_CAPSULE "hearth.srtp_function"
#define SRTP_CONTEXT_CAPSULE "hearth.srtp_context"

static void *capsule_pointer(PyObject *capsule, const char *name) {
    if (!PyCapsule_IsValid(capsule, name)) {
        PyErr_Format(PyExc_TypeError, "expected a %s capsule (server.media.seam.compiled makes them)", name);
        return NULL;
    }
    return PyCapsule_GetPointer(capsule, name);
}
static unsigned char packet[SRTP_BUFFER];  /* one copy at a time: the GIL is held throughout */
static unsigned char inbound[SRTP_BUFFER]; /* one received packet at a time */

typedef struct {
    PyObject_HEAD
    PyObject *session; /* the pylibsrtp Session owning ``ctx``: referenced while attached */
    void *ctx;
    int fd; /* our dup of the nominated pair's socket, -1 while detached */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    uint32_t ssrc;
    uint32_t ts_offset;
    uint32_t timestamp_out; /* the last forwarded packet's outgoing timestamp (a layer switch continues it) */
    int timestamp_known;
    /* VP8 running indexes (server/media/vp8.py): what the sink adds since its first layer switch, the
       newest packet's as they went out (-1: none), and whether the next run's first packet re-bases */
    int shifted;
    uint16_t picture_offset;
    uint8_t tl0_offset;
    uint8_t keyidx_offset;
    int index_out[3];
    int rebase;
    uint8_t first; /* 0x80, or 0x90 with the mid extension */
    uint8_t payload_type;
    uint8_t extension[MAX_EXTENSION];
    int extension_len;
    int abs_send_time_at; /* offset in ``extension`` of the abs-send-time value written per packet; 0: none */
    int video;
    int active;
    int waiting_keyframe;
    uint16_t seq_offset;
    uint16_t next_out;
    uint16_t start_in;
    uint16_t high_in;
    unsigned long long packets_sent;
    unsigned long long octets;
    unsigned long long dropped;
    unsigned long long sr_ntp;
    uint32_t sr_rtp;
    /* NACK answers (LeanSender.retransmit): when each kept packet was last resent, and the budget */
    double resend_interval;
    unsigned long long budget_octets; /* octets when the window before this one began (roll_budget) */
    unsigned long long budget_current; /* octets when this window began */
    unsigned long long resent_before; /* bytes resent in the window before this one */
    unsigned long long resent_now;    /* bytes resent in this window */
    unsigned long long retransmitted;
    unsigned long long resend_repeats; /* NACKed again within resend_interval: not resent */
    unsigned long long resend_over_budget;
    unsigned long long resend_stale; /* NACKed video older than STALE_REPAIR_TICKS behind the newest: not resent */
    uint16_t resent_seq[HISTORY_SIZE];
    double resent_at[HISTORY_SIZE];
    PyObject *history[HISTORY_SIZE]; /* protected packets by sequence number, for NACKs */
} Outlet;

static void outlet_close_socket(Outlet *self) {
    if (self->fd >= 0) {
        close(self->fd);
        self->fd = -1;
    }
    Py_CLEAR(self->session);
    self->ctx = NULL;
}

static int outlet_init(Outlet *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"video", "ts_offset", "next_out", NULL};
    int video;
    unsigned long ts_offset, next_out;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "pkk", kwlist, &video, &ts_offset, &next_out))
        return -1;
    outlet_close_socket(self);
    self->video = video;
    self->waiting_keyframe = video;
    self->active = 0;
    self->ts_offset = (uint32_t)ts_offset;
    self->next_out = (uint16_t)next_out;
    self->index_out[0] = self->index_out[1] = self->index_out[2] = -1;
    return 0;
}

static PyObject *outlet_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    Outlet *self = (Outlet *)type->tp_alloc(type, 0); /* zeroed: history empty, session NULL */
    if (self != NULL) {
        self->fd = -1;
        self->resend_interval = RESEND_INTERVAL;
        for (int i = 0; i < HISTORY_SIZE; i++)
            self->resent_at[i] = -1e300; /* never resent */
    }
    return (PyObject *)self;
}

static void outlet_dealloc(Outlet *self) {
    outlet_close_socket(self);
    for (int i = 0; i < HISTORY_SIZE; i++)
        Py_CLEAR(self->history[i]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static unsigned long long ntp_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return ((unsigned long long)now.tv_sec + NTP_EPOCH_OFFSET) << 32 |
           (unsigned long long)(((double)now.tv_nsec / 1e9) * 4294967296.0);
}

/* abs-send-time (6.18 fixed-point seconds, 24 bits; any epoch: receivers use differences): the time
 * of this hop's send, so a subscriber's REMB measures our link to it, not the publisher's. */
static uint32_t abs_send_time(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t fixed = ((uint64_t)now.tv_sec << 18) + (((uint64_t)now.tv_nsec << 18) / 1000000000ULL);
    return (uint32_t)(fixed & 0xFFFFFF);
}

/* LeanSender.send: header + extension + payload, protect in place, keep, send. The payload comes in
   two pieces: ``head`` (a rewritten VP8 descriptor, or nothing) and the rest as it came. */
static int outlet_send(Outlet *self, const unsigned char *head, Py_ssize_t head_len, const unsigned char *rest,
                       Py_ssize_t rest_len, int marker, uint32_t timestamp, uint16_t seq) {
    Py_ssize_t start = 12 + self->extension_len;
    Py_ssize_t size = head_len + rest_len;
    int length = (int)(start + size);
    if (start + size > MAX_PLAIN)
        return SENT; /* cannot be protected: dropped as if lost, as LeanSender does */
    packet[0] = self->first;
    packet[1] = (uint8_t)((marker ? 0x80 : 0) | self->payload_type);
    packet[2] = (uint8_t)(seq >> 8);
    packet[3] = (uint8_t)seq;
    packet[4] = (uint8_t)(timestamp >> 24);
    packet[5] = (uint8_t)(timestamp >> 16);
    packet[6] = (uint8_t)(timestamp >> 8);
    packet[7] = (uint8_t)timestamp;
    packet[8] = (uint8_t)(self->ssrc >> 24);
    packet[9] = (uint8_t)(self->ssrc >> 16);
    packet[10] = (uint8_t)(self->ssrc >> 8);
    packet[11] = (uint8_t)self->ssrc;
    memcpy(packet + 12, self->extension, (size_t)self->extension_len);
    if (self->abs_send_time_at) {
        uint32_t sent_at = abs_send_time();
        uint8_t *at = packet + 12 + self->abs_send_time_at;
        at[0] = (uint8_t)(sent_at >> 16);
        at[1] = (uint8_t)(sent_at >> 8);
        at[2] = (uint8_t)sent_at;
    }
    if (head_len)
        memcpy(packet + start, head, (size_t)head_len);
    memcpy(packet + start + head_len, rest, (size_t)rest_len);
    if (srtp_protect(self->ctx, packet, &length) != 0)
        return SENT; /* libsrtp refused (it does not for a new index): as if lost */
    PyObject *kept = PyBytes_FromStringAndSize((const char *)packet, length);
    if (kept == NULL) {
        PyErr_Clear(); /* out of memory: the copy still goes out, its NACK goes unanswered */
    }
    Py_XSETREF(self->history[seq & HISTORY_MASK], kept);
    ssize_t sent;
    do {
        sent = sendto(self->fd, packet, (size_t)length, 0, (struct sockaddr *)&self->addr, self->addr_len);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            return LAGGING; /* the kernel send buffer is this subscriber's bounded queue */
        outlet_close_socket(self); /* gone underneath us: LeanSender.link decides if it comes back */
        return LAGGING;
    }
    self->packets_sent += 1;
    self->octets += (unsigned long long)size;
    if ((self->packets_sent & 31) == 1) { /* sender reports go out about once a second */
        self->sr_rtp = timestamp;
        self->sr_ntp = ntp_now();
    }
    return SENT;
}

/* vp8.indexes: where a descriptor's running indexes are (PictureID size 0/1/2 at offset 2, TL0PICIDX's
   and KEYIDX's offsets or 0); returns where they end, or 0 when there are none or it is cut short. */
static Py_ssize_t vp8_indexes(const unsigned char *p, Py_ssize_t n, int *picture_size, int *tl0_at, int *keyidx_at) {
    if (n < 2 || !(p[0] & 0x80))
        return 0;
    uint8_t ext = p[1];
    Py_ssize_t at = 2;
    *picture_size = *tl0_at = *keyidx_at = 0;
    if (ext & 0x80) {
        if (n <= at)
            return 0;
        *picture_size = (p[at] & 0x80) ? 2 : 1;
        at += *picture_size;
    }
    if (ext & 0x40)
        *tl0_at = (int)at++;
    if (ext & 0x30) {
        if (ext & 0x10)
            *keyidx_at = (int)at;
        at += 1;
    }
    return at <= n ? at : 0;
}

/* vp8.read_indexes: (PictureID, TL0PICIDX, KEYIDX), -1 for each one not carried. */
static void vp8_read_indexes(const unsigned char *p, Py_ssize_t n, int out[3]) {
    int size, tl0_at, keyidx_at;
    out[0] = out[1] = out[2] = -1;
    if (!vp8_indexes(p, n, &size, &tl0_at, &keyidx_at))
        return;
    if (size)
        out[0] = size == 1 ? (p[2] & 0x7F) : ((p[2] & 0x7F) << 8 | p[3]);
    if (tl0_at)
        out[1] = p[tl0_at];
    if (keyidx_at)
        out[2] = p[keyidx_at] & 0x1F;
}

/* vp8.rebase: offsets so this first packet of a new layer carries the newest indexes sent + 1. */
static void outlet_rebase(Outlet *self, const unsigned char *payload, Py_ssize_t size) {
    int first[3];
    vp8_read_indexes(payload, size, first);
    if (self->index_out[0] >= 0 && first[0] >= 0)
        self->picture_offset = (uint16_t)((self->index_out[0] + 1 - first[0]) & 0x7FFF);
    if (self->index_out[1] >= 0 && first[1] >= 0)
        self->tl0_offset = (uint8_t)(self->index_out[1] + 1 - first[1]);
    if (self->index_out[2] >= 0 && first[2] >= 0)
        self->keyidx_offset = (uint8_t)((self->index_out[2] + 1 - first[2]) & 0x1F);
    self->shifted = self->picture_offset || self->tl0_offset || self->keyidx_offset;
}

/* vp8.renumber: the descriptor with its indexes shifted into ``head`` (at most 7 bytes: a 7-bit
   PictureID that no longer fits widens by one); returns its length and sets how many bytes of the
   payload it replaces, or 0 when the payload carries no indexes (it goes as it came). */
static Py_ssize_t outlet_renumber(Outlet *self, const unsigned char *p, Py_ssize_t n, unsigned char *head,
                                  Py_ssize_t *replaced) {
    int size, tl0_at, keyidx_at;
    Py_ssize_t end = vp8_indexes(p, n, &size, &tl0_at, &keyidx_at);
    if (!end)
        return 0;
    memcpy(head, p, (size_t)end);
    *replaced = end;
    if (tl0_at)
        head[tl0_at] = (uint8_t)(p[tl0_at] + self->tl0_offset);
    if (keyidx_at)
        head[keyidx_at] = (uint8_t)((p[keyidx_at] & 0xE0) | ((p[keyidx_at] + self->keyidx_offset) & 0x1F));
    if (!size)
        return end;
    int old = size == 1 ? (p[2] & 0x7F) : ((p[2] & 0x7F) << 8 | p[3]);
    int picture = (old + self->picture_offset) & 0x7FFF;
    if (size == 1 && picture <= 0x7F) {
        head[2] = (uint8_t)picture;
        return end;
    }
    if (size == 1) { /* widen: everything after the 7-bit field moves one byte on */
        memmove(head + 4, head + 3, (size_t)(end - 3));
        end += 1;
    }
    head[2] = (uint8_t)(0x80 | picture >> 8);
    head[3] = (uint8_t)picture;
    return end;
}

/* Sink.forward: sequence and timestamp rewriting, keyframe waits, lag. */
static int outlet_forward(Outlet *self, const unsigned char *payload, Py_ssize_t size, uint16_t seq,
                          uint32_t timestamp, int marker, int keyframe) {
    if (self->fd < 0) {
        self->active = 0;
        self->waiting_keyframe = self->video;
        return UNLINKED;
    }
    if (!self->active) {
        if (self->waiting_keyframe && !keyframe)
            return NEEDS_KEYFRAME;
        self->waiting_keyframe = 0;
        self->active = 1;
        self->start_in = self->high_in = seq;
        self->seq_offset = (uint16_t)(self->next_out - seq);
        if (self->rebase) {
            self->rebase = 0;
            outlet_rebase(self, payload, size);
        }
    } else if ((uint16_t)(seq - self->start_in) & 0x8000) {
        return SKIPPED; /* from before our restart point: its sequence number is taken */
    } else if (!((uint16_t)(seq - self->high_in) & 0x8000)) {
        self->high_in = seq;
        if ((uint16_t)(seq - self->start_in) > RESTART_WINDOW)
            self->start_in = (uint16_t)(seq - RESTART_WINDOW);
    }
    uint16_t out = (uint16_t)(seq + self->seq_offset);
    uint32_t stamp = timestamp + self->ts_offset;
    unsigned char head[8];
    Py_ssize_t head_len = 0, replaced = 0;
    if (self->video && self->shifted)
        head_len = outlet_renumber(self, payload, size, head, &replaced);
    if (!((uint16_t)(out - self->next_out) & 0x8000)) {
        self->next_out = (uint16_t)(out + 1);
        self->timestamp_out = stamp;
        self->timestamp_known = 1;
        if (head_len)
            vp8_read_indexes(head, head_len, self->index_out);
        else if (self->video)
            vp8_read_indexes(payload, size, self->index_out);
    }
    if (outlet_send(self, head, head_len, payload + replaced, size - replaced, marker, stamp, out) == SENT)
        return SENT;
    self->dropped += 1; /* this subscriber lags: start over (video at a keyframe) */
    self->active = 0;
    self->waiting_keyframe = self->video;
    return self->video ? NEEDS_KEYFRAME : LAGGING;
}

/* forwarder.vp8_starts_frame and vp8_is_keyframe: S bit, partition 0, then P bit 0. */
static int vp8_keyframe(const unsigned char *p, Py_ssize_t n) {
    if (n < 1 || !(p[0] & 0x10) || (p[0] & 0x07))
        return 0;
    Py_ssize_t at = 1;
    if (p[0] & 0x80) {
        if (n < 2)
            return 0;
        uint8_t ext = p[1];
        at = 2;
        if (ext & 0x80) {
            if (n <= at)
                return 0;
            at += (p[at] & 0x80) ? 2 : 1;
        }
        if (ext & 0x40)
            at += 1;
        if (ext & 0x30)
            at += 1;
    }
    return n > at && !(p[at] & 0x01);
}

static PyObject *outlet_attach(Outlet *self, PyObject *args) {
    PyObject *session, *context;
    int fd, payload_type;
    const char *host;
    int port;
    unsigned long ssrc;
    const char *extension;
    Py_ssize_t extension_len;
    if (!PyArg_ParseTuple(args, "OOisikiy#", &session, &context, &fd, &host, &port, &ssrc, &payload_type, &extension,
                          &extension_len))
        return NULL;
    void *ctx = capsule_pointer(context, SRTP_CONTEXT_CAPSULE);
    if (ctx == NULL)
        return NULL;
    if (srtp_protect == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "set_srtp() has not been called");
        return NULL;
    }
    if (extension_len > MAX_EXTENSION) {
        PyErr_SetString(PyExc_ValueError, "extension too long");
        return NULL;
    }
    struct addrinfo hints = {0}, *found = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &found);
    if (rc != 0 || found == NULL || found->ai_addrlen > sizeof self->addr) {
        if (found != NULL)
            freeaddrinfo(found);
        PyErr_Format(PyExc_ValueError, "not a numeric address: %s", host);
        return NULL;
    }
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
        freeaddrinfo(found);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    outlet_close_socket(self);
    memcpy(&self->addr, found->ai_addr, found->ai_addrlen);
    self->addr_len = found->ai_addrlen;
    freeaddrinfo(found);
    self->fd = copy;
    Py_INCREF(session);
    self->session = session;
    self->ctx = ctx;
    self->ssrc = (uint32_t)ssrc;
    self->payload_type = (uint8_t)(payload_type & 0x7F);
    memcpy(self->extension, extension, (size_t)extension_len);
    self->extension_len = (int)extension_len;
    self->abs_send_time_at = 0; /* set_abs_send_time() names it again for this extension */
    self->first = extension_len ? 0x90 : 0x80;
    Py_RETURN_NONE;
}

static PyObject *outlet_detach(Outlet *self, PyObject *unused) {
    outlet_close_socket(self);
    self->active = 0;
    self->waiting_keyframe = self->video;
    Py_RETURN_NONE;
}

static PyObject *outlet_set_abs_send_time(Outlet *self, PyObject *arg) {
    long at = PyLong_AsLong(arg);
    if (at == -1 && PyErr_Occurred())
        return NULL;
    if (at < 0 || at + 3 > self->extension_len) {
        PyErr_SetString(PyExc_ValueError, "abs-send-time offset outside the extension");
        return NULL;
    }
    self->abs_send_time_at = (int)at;
    Py_RETURN_NONE;
}

static PyObject *outlet_restart(Outlet *self, PyObject *unused) {
    self->active = 0;
    Py_RETURN_NONE;
}

/* Sink.resume: a restart that waits for a keyframe (video), as a reopened gate must. */
static PyObject *outlet_resume(Outlet *self, PyObject *unused) {
    self->active = 0;
    self->waiting_keyframe = self->video;
    Py_RETURN_NONE;
}

/* Sink.switch: the next packets come from another simulcast layer (its own sequence numbers and
   timestamp base): re-base sequence numbers at its keyframe, and timestamps so that the keyframe with
   ``timestamp`` goes out ``step`` after the last packet forwarded. */
static PyObject *outlet_switch(Outlet *self, PyObject *args) {
    unsigned long timestamp, step;
    if (!PyArg_ParseTuple(args, "kk", &timestamp, &step))
        return NULL;
    if (self->timestamp_known)
        self->ts_offset = (uint32_t)(self->timestamp_out + (uint32_t)step - (uint32_t)timestamp);
    self->rebase = self->video; /* its VP8 indexes continue ours too (outlet_rebase) */
    self->active = 0;
    self->waiting_keyframe = self->video;
    Py_RETURN_NONE;
}

/* (payload, seq, timestamp, marker, flag), as Outlet.forward and fan_out take a packet. */
typedef struct {
    Py_buffer payload;
    uint16_t seq;
    uint32_t timestamp;
    int marker;
    int flag;
} PacketArgs;

/* 0, or -1 with an exception set (the payload then needs no release). */
static int packet_args(PyObject *const *args, PacketArgs *p) {
    if (PyObject_GetBuffer(args[0], &p->payload, PyBUF_SIMPLE) < 0)
        return -1;
    p->seq = (uint16_t)PyLong_AsUnsignedLongMask(args[1]);
    p->timestamp = (uint32_t)PyLong_AsUnsignedLongMask(args[2]);
    p->marker = PyObject_IsTrue(args[3]);
    p->flag = PyObject_IsTrue(args[4]);
    if (PyErr_Occurred()) {
        PyBuffer_Release(&p->payload);
        return -1;
    }
    return 0;
}

static PyObject *outlet_forward_method(Outlet *self, PyObject *const *args, Py_ssize_t nargs) {
    PacketArgs p;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "forward(payload, seq, timestamp, marker, keyframe)");
        return NULL;
    }
    if (packet_args(args, &p) < 0)
        return NULL;
    int outcome = outlet_forward(self, p.payload.buf, p.payload.len, p.seq, p.timestamp, p.marker, p.flag);
    PyBuffer_Release(&p.payload);
    return PyLong_FromLong(outcome);
}

/* Sink.upstream_seq: the publisher's sequence number of an outgoing one in this run, or -1. */
static long outlet_upstream_seq(Outlet *self, uint16_t out) {
    if (!self->active)
        return -1;
    uint16_t in = (uint16_t)(out - self->seq_offset);
    if (((uint16_t)(in - self->start_in) & 0x8000) || ((uint16_t)(self->high_in - in) & 0x8000))
        return -1;
    return in;
}

/* LeanSender.retransmit: answer a NACK from the history, once per resend_interval per packet and within
   the budget; returns the publisher's sequence numbers of what was asked for and never came to us. */
static PyObject *outlet_retransmit(Outlet *self, PyObject *args) {
    PyObject *lost;
    double now;
    if (!PyArg_ParseTuple(args, "Od", &lost, &now))
        return NULL;
    PyObject *upstream = PyList_New(0);
    if (upstream == NULL)
        return NULL;
    PyObject *iterator = PyObject_GetIter(lost);
    if (iterator == NULL) {
        Py_DECREF(upstream);
        return NULL;
    }
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        unsigned long seq = PyLong_AsUnsignedLongMask(item) & 0xFFFF;
        Py_DECREF(item);
        if (PyErr_Occurred() || self->fd < 0)
            break;
        int at = seq & HISTORY_MASK;
        PyObject *kept = self->history[at];
        const unsigned char *data = kept == NULL ? NULL : (const unsigned char *)PyBytes_AS_STRING(kept);
        if (data == NULL || ((unsigned long)data[2] << 8 | data[3]) != seq) {
            long in = outlet_upstream_seq(self, (uint16_t)seq); /* never came to us: ask the publisher */
            if (in >= 0) {
                PyObject *value = PyLong_FromLong(in);
                if (value == NULL || PyList_Append(upstream, value) < 0) {
                    Py_XDECREF(value);
                    break;
                }
                Py_DECREF(value);
            }
            continue;
        }
        if (self->video && self->timestamp_known) {
            uint32_t stamp = (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 | (uint32_t)data[6] << 8 | data[7];
            uint32_t behind = self->timestamp_out - stamp;
            if (behind > STALE_REPAIR_TICKS && behind < 0x80000000u) {
                self->resend_stale += 1;
                continue;
            }
        }
        if (self->resent_seq[at] == seq && now - self->resent_at[at] < self->resend_interval) {
            self->resend_repeats += 1;
            continue;
        }
        unsigned long long size = (unsigned long long)PyBytes_GET_SIZE(kept);
        unsigned long long earned = self->octets - self->budget_octets;
        if ((self->resent_before + self->resent_now + size) * 100 > earned * RETRANSMIT_PERCENT) {
            self->resend_over_budget += 1;
            continue;
        }
        if (sendto(self->fd, data, (size_t)size, 0, (struct sockaddr *)&self->addr, self->addr_len) < 0)
            continue;
        self->resent_now += size;
        self->retransmitted += 1;
        self->resent_seq[at] = (uint16_t)seq;
        self->resent_at[at] = now;
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        Py_DECREF(upstream);
        return NULL;
    }
    return upstream;
}

/* LeanSender.roll_budget: a new budget window (once a second, with the sender reports). */
static PyObject *outlet_roll_budget(Outlet *self, PyObject *unused) {
    self->budget_octets = self->budget_current;
    self->budget_current = self->octets;
    self->resent_before = self->resent_now;
    self->resent_now = 0;
    Py_RETURN_NONE;
}

static PyObject *outlet_linked(Outlet *self, void *closure) { return PyBool_FromLong(self->fd >= 0); }
static PyObject *outlet_active(Outlet *self, void *closure) { return PyBool_FromLong(self->active); }
static PyObject *outlet_waiting(Outlet *self, void *closure) { return PyBool_FromLong(self->waiting_keyframe); }

static PyMethodDef outlet_methods[] = {
    {"attach", (PyCFunction)outlet_attach, METH_VARARGS,
     "attach(session, ctx, fd, host, port, ssrc, payload_type, extension): send on a dup of fd to (host, port)."},
    {"detach", (PyCFunction)outlet_detach, METH_NOARGS, "Close the socket and forget the SRTP session."},
    {"restart", (PyCFunction)outlet_restart, METH_NOARGS, "Re-base sequence numbers at the next packet."},
    {"resume", (PyCFunction)outlet_resume, METH_NOARGS, "Re-base at the next packet; video at the next keyframe."},
    {"switch", (PyCFunction)outlet_switch, METH_VARARGS,
     "switch(timestamp, step): another layer's keyframe with this timestamp goes out step after the last packet."},
    {"set_abs_send_time", (PyCFunction)outlet_set_abs_send_time, METH_O,
     "set_abs_send_time(offset): write abs-send-time at this offset of the extension (after attach)."},
    {"forward", (PyCFunction)(void (*)(void))outlet_forward_method, METH_FASTCALL,
     "forward(payload, seq, timestamp, marker, keyframe) -> outcome (SENT, SKIPPED, NEEDS_KEYFRAME, ...)."},
    {"retransmit", (PyCFunction)outlet_retransmit, METH_VARARGS,
     "retransmit(lost, now) -> upstream sequence numbers: answer a NACK from the history (LeanSender.retransmit)."},
    {"roll_budget", (PyCFunction)outlet_roll_budget, METH_NOARGS, "Start a new retransmission budget window."},
    {NULL},
};

static PyMemberDef outlet_members[] = {
    {"packets_sent", T_ULONGLONG, offsetof(Outlet, packets_sent), READONLY, NULL},
    {"octets", T_ULONGLONG, offsetof(Outlet, octets), READONLY, NULL},
    {"dropped", T_ULONGLONG, offsetof(Outlet, dropped), READONLY, NULL},
    {"sr_ntp", T_ULONGLONG, offsetof(Outlet, sr_ntp), READONLY, NULL},
    {"sr_rtp", T_UINT, offsetof(Outlet, sr_rtp), READONLY, NULL},
    {"ssrc", T_UINT, offsetof(Outlet, ssrc), READONLY, NULL},
    {"timestamp_out", T_UINT, offsetof(Outlet, timestamp_out), READONLY, "the last forwarded packet's timestamp"},
    {"resend_interval", T_DOUBLE, offsetof(Outlet, resend_interval), 0, "seconds: no packet resent twice within"},
    {"retransmitted", T_ULONGLONG, offsetof(Outlet, retransmitted), READONLY, NULL},
    {"resend_repeats", T_ULONGLONG, offsetof(Outlet, resend_repeats), READONLY, NULL},
    {"resend_over_budget", T_ULONGLONG, offsetof(Outlet, resend_over_budget), READONLY, NULL},
    {"resend_stale", T_ULONGLONG, offsetof(Outlet, resend_stale), READONLY, NULL},
    {NULL},
};

static PyGetSetDef outlet_getset[] = {
    {"linked", (getter)outlet_linked, NULL, "True while a socket is attached.", NULL},
    {"active", (getter)outlet_active, NULL, "True while packets flow (False: waiting to start).", NULL},
    {"waiting_keyframe", (getter)outlet_waiting, NULL, "True while video waits for a keyframe.", NULL},
    {NULL},
};

static PyTypeObject OutletType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "server.media._fastpath.Outlet",
    .tp_doc = "One subscriber's copy of one track: Sink.forward + LeanSender.send, compiled.",
    .tp_basicsize = sizeof(Outlet),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = outlet_new,
    .tp_init = (initproc)outlet_init,
    .tp_dealloc = (destructor)outlet_dealloc,
    .tp_methods = outlet_methods,
    .tp_members = outlet_members,
    .tp_getset = outlet_getset,
};

/* fan_out(outlets, payload, seq, timestamp, marker, video) -> copies sent | WANT_KEYFRAME | UNLINKED */
static PyObject *fan_out(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6 || !PyList_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "fan_out(outlets: list, payload, seq, timestamp, marker, video)");
        return NULL;
    }
    PacketArgs p;
    if (packet_args(args + 1, &p) < 0)
        return NULL;
    int keyframe = p.flag && vp8_keyframe(p.payload.buf, p.payload.len); /* flag: video */
    PyObject *outlets = args[0];
    long result = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(outlets); i++) {
        PyObject *item = PyList_GET_ITEM(outlets, i);
        if (Py_TYPE(item) != &OutletType)
            continue;
        switch (outlet_forward((Outlet *)item, p.payload.buf, p.payload.len, p.seq, p.timestamp, p.marker, keyframe)) {
        case SENT:
            result += 1;
            break;
        case NEEDS_KEYFRAME:
            result |= WANT_KEYFRAME_FLAG;
            break;
        case UNLINKED:
            result |= UNLINKED_FLAG;
            break;
        default:
            break;
        }
    }
    PyBuffer_Release(&p.payload);
    return PyLong_FromLong(result);
}

static PyObject *is_vp8_keyframe(PyObject *module, PyObject *arg) {
    Py_buffer payload;
    if (PyObject_GetBuffer(arg, &payload, PyBUF_SIMPLE) < 0)
        return NULL;
    int keyframe = vp8_keyframe(payload.buf, payload.len);
    PyBuffer_Release(&payload);
    return PyBool_FromLong(keyframe);
}

static PyObject *set_srtp(PyObject *module, PyObject *args) {
    PyObject *protect, *unprotect;
    if (!PyArg_ParseTuple(args, "OO", &protect, &unprotect))
        return NULL;
    void *protect_at = capsule_pointer(protect, SRTP_FUNCTION_CAPSULE);
    if (protect_at == NULL)
        return NULL;
    void *unprotect_at = capsule_pointer(unprotect, SRTP_FUNCTION_CAPSULE);
    if (unprotect_at == NULL)
        return NULL;
    srtp_protect = (srtp_fn)(uintptr_t)protect_at;
    srtp_unprotect = (srtp_fn)(uintptr_t)unprotect_at;
    Py_RETURN_NONE;
}

/* ---- the receive side: seam.receive.LeanReceiver's socket callback + seam.inbound.InboundTrack.on_srtp ---- */

#define MAX_TRACKS 8
#define MAX_ARRIVALS 4096 /* transport_cc.MAX_ARRIVALS: arrivals noted between two feedbacks */
#define NACK_WINDOW 128 /* seam.inbound.NACK_WINDOW (a power of two: gap slots are seq & (NACK_WINDOW - 1)) */
#define PICTURE_RING (2 * NACK_WINDOW) /* seam.inbound.PICTURE_RING: picture slots are seq & (PICTURE_RING - 1) */
#define REORDER_DELAY 0.02      /* seam.inbound.REORDER_DELAY */
#define REORDER_JITTERS 2       /* seam.inbound.REORDER_JITTERS */
#define MAX_REORDER_DELAY 0.08  /* seam.inbound.MAX_REORDER_DELAY */
#define NACK_RETRY_INTERVAL 0.1 /* seam.inbound.NACK_RETRY_INTERVAL: until a round trip is measured */
#define MAX_NACKS 5             /* seam.inbound.MAX_NACKS */
#define RTT_GAIN 0.125          /* repair.RTT_GAIN */
#define RETRY_MARGIN 0.01       /* repair.RETRY_MARGIN */
#define MIN_RETRY_INTERVAL 0.02 /* repair.MIN_RETRY_INTERVAL */
#define MAX_RETRY_INTERVAL 0.5  /* repair.MAX_RETRY_INTERVAL */
#define MAX_RTT_SAMPLE 5.0      /* repair.MAX_RTT_SAMPLE */
#define MAX_REPAIR_GAP 64       /* seam.inbound.MAX_REPAIR_GAP */
#define GAP_TOO_LONG "more than MAX_REPAIR_GAP lost in a row" /* seam.inbound.GAP_TOO_LONG */
#define GAP_OUT_OF_WINDOW "a gap fell out of the window" /* seam.inbound.GAP_OUT_OF_WINDOW */
#define NACKS_SPENT "every NACK spent" /* seam.inbound.NACKS_SPENT */
#define PICTURE_PADDING (-2)    /* seam.inbound.PADDING */
#define PICTURE_NONE (-1)       /* seam.inbound.NO_PICTURE_ID */
#define PICTURE_STARTS 2        /* seam.inbound.STARTS */
#define PICTURE_ENDS 1          /* seam.inbound.ENDS */
#define PICTURE_KNOWN 0x80      /* the slot holds a received packet's picture (InboundTrack._pictures: not None) */

/* Bit d-1: the packet d before the highest is missing, d in 1..NACK_WINDOW. Two 64-bit words rather
 * than a compiler's 128-bit integer, which not every C compiler (nor every 32-bit target) has. */
typedef struct {
    uint64_t word[2];
} gaps_t;
_Static_assert(NACK_WINDOW == 128, "gaps_t holds NACK_WINDOW bits");

static inline int gaps_has(const gaps_t *g, unsigned d) {
    unsigned b = d - 1;
    return (int)((g->word[b >> 6] >> (b & 63)) & 1);
}

static inline void gaps_set(gaps_t *g, unsigned d) {
    unsigned b = d - 1;
    g->word[b >> 6] |= (uint64_t)1 << (b & 63);
}

static inline void gaps_clear(gaps_t *g, unsigned d) {
    unsigned b = d - 1;
    g->word[b >> 6] &= ~((uint64_t)1 << (b & 63));
}

static inline int gaps_any(const gaps_t *g) {
    return (g->word[0] | g->word[1]) != 0;
}

/* The highest moved up by n >= 1: every gap is n further back; those pushed past NACK_WINDOW are gone. */
static inline void gaps_shift(gaps_t *g, unsigned n) {
    if (n >= 128) {
        g->word[0] = g->word[1] = 0;
    } else if (n >= 64) {
        g->word[1] = g->word[0] << (n - 64);
        g->word[0] = 0;
    } else {
        g->word[1] = (g->word[1] << n) | (g->word[0] >> (64 - n));
        g->word[0] <<= n;
    }
}

typedef struct {
    uint32_t ssrc;
    PyObject *on_rtp;  /* the consumer's on_rtp(payload, seq, timestamp, marker, level) */
    PyObject *on_nack; /* called with the sorted sequence numbers whose NACK is due */
    PyObject *on_unrepairable; /* called when a gap is beyond repair (LeanReceiver.unrepairable) */
    int video;
    int level_id;
    double clockrate;
    /* aiortc's StreamStatistics fields, kept here and written back before each receiver report */
    unsigned long long packets_received;
    long long max_seq;
    long long cycles;
    long long jitter_q4;
    long long last_arrival;
    long long last_timestamp;
    unsigned long long lean_packets;
    long high; /* InboundTrack._high: -1 until the first video packet */
    gaps_t missing;
    /* InboundTrack._missing's entries, by seq & (NACK_WINDOW - 1): open since, NACKs sent, last NACK at */
    double since[NACK_WINDOW];
    double last[NACK_WINDOW];
    uint8_t tries[NACK_WINDOW];
    double rtt;   /* InboundTrack.rtt: from a NACK to the packet it asked for, smoothed; < 0 until measured */
    double retry; /* InboundTrack.retry_interval */
    /* InboundTrack._pictures, by seq & (PICTURE_RING - 1): the packet's seq, PictureID (or PICTURE_PADDING,
       PICTURE_NONE), and PICTURE_KNOWN | PICTURE_STARTS | PICTURE_ENDS */
    uint16_t picture_seq[PICTURE_RING];
    int32_t picture_id[PICTURE_RING];
    uint8_t picture_flags[PICTURE_RING];
} InletTrack;

typedef struct {
    PyObject_HEAD
    PyObject *session; /* the pylibsrtp Session owning ``ctx`` */
    void *ctx;
    PyObject *validated; /* seam.guard: the set of (host, port) the connection's ICE checks proved */
    PyObject *on_drop;   /* Drops.add(reason), for each datagram the guard refuses */
    PyObject *clock;     /* LeanReceiver.clock when a test gives one; NULL: CLOCK_MONOTONIC */
    int count;
    InletTrack tracks[MAX_TRACKS];
    /* transport_cc: the transport-wide sequence number extension's id (0: not negotiated), the arrivals
       not yet drained by ``arrivals()``, and when ``on_feedback`` (LeanReceiver.send_feedback) is next due */
    int tcc_id;
    double feedback_interval;
    double feedback_due;
    PyObject *on_feedback;
    int arrival_count;
    uint16_t arrival_seq[MAX_ARRIVALS];
    double arrival_at[MAX_ARRIVALS];
} Inlet;

static void track_clear(InletTrack *t) {
    Py_CLEAR(t->on_rtp);
    Py_CLEAR(t->on_nack);
    Py_CLEAR(t->on_unrepairable);
}

/* The callbacks refer back to the receiver that owns this inlet (a cycle the collector must see). */
static int inlet_traverse(Inlet *self, visitproc visit, void *arg) {
    Py_VISIT(self->session);
    Py_VISIT(self->validated);
    Py_VISIT(self->on_drop);
    Py_VISIT(self->clock);
    Py_VISIT(self->on_feedback);
    for (int i = 0; i < self->count; i++) {
        Py_VISIT(self->tracks[i].on_rtp);
        Py_VISIT(self->tracks[i].on_nack);
        Py_VISIT(self->tracks[i].on_unrepairable);
    }
    return 0;
}

static int inlet_gc_clear(Inlet *self) {
    for (int i = 0; i < self->count; i++)
        track_clear(&self->tracks[i]);
    self->count = 0;
    Py_CLEAR(self->session);
    Py_CLEAR(self->validated);
    Py_CLEAR(self->on_drop);
    Py_CLEAR(self->clock);
    Py_CLEAR(self->on_feedback);
    self->tcc_id = 0;
    self->ctx = NULL;
    return 0;
}

static void inlet_dealloc(Inlet *self) {
    PyObject_GC_UnTrack(self);
    inlet_gc_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static InletTrack *inlet_find(Inlet *self, uint32_t ssrc) {
    for (int i = 0; i < self->count; i++)
        if (self->tracks[i].ssrc == ssrc)
            return &self->tracks[i];
    return NULL;
}

static PyObject *inlet_set_session(Inlet *self, PyObject *args) {
    PyObject *session, *context;
    if (!PyArg_ParseTuple(args, "OO", &session, &context))
        return NULL;
    void *ctx = capsule_pointer(context, SRTP_CONTEXT_CAPSULE);
    if (ctx == NULL)
        return NULL;
    if (srtp_unprotect == NULL) {
        PyErr_SetString(PyExc_ValueError, "set_srtp() has not been called");
        return NULL;
    }
    Py_INCREF(session);
    Py_XSETREF(self->session, session);
    self->ctx = ctx;
    Py_RETURN_NONE;
}

static PyObject *inlet_guard(Inlet *self, PyObject *args) {
    PyObject *validated, *on_drop;
    if (!PyArg_ParseTuple(args, "O!O", &PySet_Type, &validated, &on_drop))
        return NULL;
    Py_INCREF(validated);
    Py_XSETREF(self->validated, validated);
    Py_INCREF(on_drop);
    Py_XSETREF(self->on_drop, on_drop);
    Py_RETURN_NONE;
}

static void remove_track(Inlet *self, InletTrack *t) {
    track_clear(t);
    int last = self->count - 1;
    if (t != &self->tracks[last])
        *t = self->tracks[last]; /* moves the references: nothing to count */
    memset(&self->tracks[last], 0, sizeof(InletTrack));
    self->count = last;
}

/* LeanReceiver.clock: the test's clock when one was given, else CLOCK_MONOTONIC (time.monotonic's).
   -1 with an exception set if the given clock fails. */
static double inlet_now(Inlet *self) {
    if (self->clock != NULL) {
        PyObject *value = PyObject_CallNoArgs(self->clock);
        if (value == NULL)
            return -1.0;
        double now = PyFloat_AsDouble(value);
        Py_DECREF(value);
        return now;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

#define NOW_FAILED(now) ((now) == -1.0 && PyErr_Occurred())

/* add(ssrc, on_rtp, on_nack, on_unrepairable, video, level_id, clockrate,
       packets_received, max_seq, cycles, jitter_q4, last_arrival, last_timestamp, high, missing) */
static PyObject *inlet_add(Inlet *self, PyObject *args) {
    InletTrack fresh; /* parsed straight into its fields */
    memset(&fresh, 0, sizeof fresh);
    unsigned long ssrc;
    PyObject *missing;
    if (!PyArg_ParseTuple(args, "kOOOpidKLLLLLlO", &ssrc, &fresh.on_rtp, &fresh.on_nack, &fresh.on_unrepairable,
                          &fresh.video, &fresh.level_id, &fresh.clockrate, &fresh.packets_received, &fresh.max_seq,
                          &fresh.cycles, &fresh.jitter_q4, &fresh.last_arrival, &fresh.last_timestamp, &fresh.high,
                          &missing))
        return NULL;
    double now = inlet_now(self);
    if (NOW_FAILED(now))
        return NULL;
    fresh.ssrc = (uint32_t)ssrc;
    fresh.rtt = -1.0;
    fresh.retry = NACK_RETRY_INTERVAL;
    PyObject *iterator = PyObject_GetIter(missing);
    if (iterator == NULL)
        return NULL;
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        long seq = PyLong_AsLong(item);
        Py_DECREF(item);
        if (seq == -1 && PyErr_Occurred())
            break; /* not an integer: stop here, never call into Python with the exception set */
        long distance = (fresh.high - seq) & 0xFFFF;
        if (fresh.high >= 0 && distance >= 1 && distance <= NACK_WINDOW) {
            gaps_set(&fresh.missing, (unsigned)distance);
            fresh.since[seq & (NACK_WINDOW - 1)] = fresh.last[seq & (NACK_WINDOW - 1)] = now; /* timers restart */
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred())
        return NULL;
    InletTrack *t = inlet_find(self, fresh.ssrc);
    if (t == NULL) {
        if (self->count == MAX_TRACKS) {
            PyErr_SetString(PyExc_OverflowError, "too many tracks on one connection");
            return NULL;
        }
        t = &self->tracks[self->count++];
    } else {
        track_clear(t);
    }
    Py_INCREF(fresh.on_rtp);
    Py_INCREF(fresh.on_nack);
    Py_INCREF(fresh.on_unrepairable);
    *t = fresh;
    Py_RETURN_NONE;
}

static PyObject *inlet_remove(Inlet *self, PyObject *arg) {
    unsigned long ssrc = PyLong_AsUnsignedLongMask(arg);
    if (PyErr_Occurred())
        return NULL;
    InletTrack *t = inlet_find(self, (uint32_t)ssrc);
    if (t != NULL)
        remove_track(self, t);
    Py_RETURN_NONE;
}

static PyObject *inlet_clear(Inlet *self, PyObject *unused) {
    while (self->count)
        remove_track(self, &self->tracks[0]);
    Py_CLEAR(self->session);
    self->ctx = NULL;
    Py_RETURN_NONE;
}

/* stats(ssrc) -> (packets_received, max_seq, cycles, jitter_q4, last_arrival, last_timestamp,
                   lean_packets, high, missing) or None */
static PyObject *inlet_stats(Inlet *self, PyObject *arg) {
    unsigned long ssrc = PyLong_AsUnsignedLongMask(arg);
    if (PyErr_Occurred())
        return NULL;
    InletTrack *t = inlet_find(self, (uint32_t)ssrc);
    if (t == NULL)
        Py_RETURN_NONE;
    PyObject *missing = PyList_New(0);
    if (missing == NULL)
        return NULL;
    for (int d = 1; d <= NACK_WINDOW; d++) {
        if (!gaps_has(&t->missing, (unsigned)d))
            continue;
        PyObject *seq = PyLong_FromLong((t->high - d) & 0xFFFF);
        if (seq == NULL || PyList_Append(missing, seq) < 0) {
            Py_XDECREF(seq);
            Py_DECREF(missing);
            return NULL;
        }
        Py_DECREF(seq);
    }
    return Py_BuildValue("(KLLLLLKlN)", t->packets_received, t->max_seq, t->cycles, t->jitter_q4, t->last_arrival,
                         t->last_timestamp, t->lean_packets, t->high, missing);
}

/* The sequence numbers of the open gaps (bit d - 1: high - d), in a list sorted by value, or NULL. */
static PyObject *sorted_list(long *lost, int n) {
    for (int i = 1; i < n; i++) /* sorted by value, as ``sorted(due)`` */
        for (int j = i; j > 0 && lost[j - 1] > lost[j]; j--) {
            long swap = lost[j];
            lost[j] = lost[j - 1];
            lost[j - 1] = swap;
        }
    PyObject *list = PyList_New(n);
    if (list == NULL)
        return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *value = PyLong_FromLong(lost[i]);
        if (value == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, value);
    }
    return list;
}

static int call_nack(InletTrack *t, long *lost, int n) {
    if (n == 0)
        return 0;
    PyObject *list = sorted_list(lost, n);
    if (list == NULL)
        return -1;
    PyObject *done = PyObject_CallOneArg(t->on_nack, list);
    Py_DECREF(list);
    if (done == NULL)
        return -1;
    Py_DECREF(done);
    return 0;
}

/* LeanReceiver.unrepairable: forget every gap, the consumer asks for a keyframe; why (seam.inbound's
   GAP_TOO_LONG, GAP_OUT_OF_WINDOW, NACKS_SPENT) goes with it. */
static int track_unrepairable(InletTrack *t, const char *why) {
    t->missing = (gaps_t){{0, 0}};
    PyObject *done = PyObject_CallFunction(t->on_unrepairable, "s", why);
    if (done == NULL)
        return -1;
    Py_DECREF(done);
    return 0;
}

/* InboundTrack.reorder_allowance */
static double reorder_allowance(InletTrack *t) {
    double allowance = REORDER_DELAY + REORDER_JITTERS * ((double)(t->jitter_q4 >> 4) / t->clockrate);
    return allowance < MAX_REORDER_DELAY ? allowance : MAX_REORDER_DELAY;
}

/* repair.smooth_rtt and repair.retry_interval: one more round trip sampled, and the interval it gives. */
static void track_sample_rtt(InletTrack *t, double sample) {
    if (!(sample >= 0.0 && sample <= MAX_RTT_SAMPLE))
        return;
    t->rtt = t->rtt < 0.0 || sample <= t->rtt ? sample : t->rtt + RTT_GAIN * (sample - t->rtt);
    double interval = t->rtt + RETRY_MARGIN;
    interval = interval > MIN_RETRY_INTERVAL ? interval : MIN_RETRY_INTERVAL;
    t->retry = interval < MAX_RETRY_INTERVAL ? interval : MAX_RETRY_INTERVAL;
}

/* repair.backoff: from a packet's tries-th NACK to its next (or to giving it up). */
static double backoff(double retry, int tries) {
    double wait = retry * (double)(1u << (tries - 1));
    return wait < MAX_RETRY_INTERVAL ? wait : MAX_RETRY_INTERVAL;
}

/* InboundTrack._note: what one video packet says of picture boundaries. */
static void track_note(InletTrack *t, uint16_t seq, const uint8_t *payload, Py_ssize_t size, int marker) {
    int slot = seq & (PICTURE_RING - 1);
    t->picture_seq[slot] = seq;
    if (size <= 0) {
        t->picture_id[slot] = PICTURE_PADDING;
        t->picture_flags[slot] = PICTURE_KNOWN;
        return;
    }
    int carried[3]; /* PictureID (or PICTURE_NONE, -1: not carried), TL0PICIDX, KEYIDX */
    vp8_read_indexes(payload, size, carried);
    t->picture_id[slot] = carried[0];
    int starts = (payload[0] & 0x10) && (payload[0] & 0x07) == 0;
    t->picture_flags[slot] = PICTURE_KNOWN | (starts ? PICTURE_STARTS : 0) | (marker ? PICTURE_ENDS : 0);
}

/* InboundTrack._nearest: the slot of the nearest packet received before (step -1) or after (+1) seq
   within the ring of pictures, what is missing passed over, and padding too when media; -1 when there
   is none within NACK_WINDOW packets of seq. */
static int track_nearest(InletTrack *t, uint16_t seq, int step, int media) {
    for (int k = 1; k < NACK_WINDOW; k++) {
        uint16_t at = (uint16_t)(seq + step * k);
        unsigned behind = (uint16_t)(t->high - at);
        if (behind >= PICTURE_RING)
            return -1;
        int slot = at & (PICTURE_RING - 1);
        if (!(t->picture_flags[slot] & PICTURE_KNOWN) || t->picture_seq[slot] != at ||
            (media && t->picture_id[slot] == PICTURE_PADDING) ||
            (behind >= 1 && behind <= NACK_WINDOW && gaps_has(&t->missing, behind)))
            continue;
        return slot;
    }
    return -1;
}

/* InboundTrack.only_padding */
static int track_only_padding(InletTrack *t, uint16_t seq) {
    int before = track_nearest(t, seq, -1, 1), after = track_nearest(t, seq, 1, 1);
    if (before >= 0 && after >= 0) {
        if (t->picture_id[before] < 0 || t->picture_id[after] < 0)
            return 0;
        return (t->picture_flags[before] & PICTURE_ENDS) && (t->picture_flags[after] & PICTURE_STARTS) &&
               t->picture_id[after] == ((t->picture_id[before] + 1) & 0x7FFF);
    }
    before = track_nearest(t, seq, -1, 0);
    after = track_nearest(t, seq, 1, 0);
    return before >= 0 && after >= 0 && t->picture_id[before] == PICTURE_PADDING &&
           t->picture_id[after] == PICTURE_PADDING;
}

/* A gap NACKed MAX_NACKS times and still open a backed-off interval after its last NACK. */
static int track_spent(InletTrack *t, int d, double now) {
    int slot = (int)((t->high - d) & (NACK_WINDOW - 1));
    return gaps_has(&t->missing, (unsigned)d) && t->tries[slot] >= MAX_NACKS &&
           now - t->last[slot] >= backoff(t->retry, t->tries[slot]);
}

/* InboundTrack._repair: NACK what is due; a gap NACKed MAX_NACKS times and still open is beyond repair,
   unless every such gap was padding (those alone are forgotten). */
static int track_repair(InletTrack *t, double now) {
    int spent = 0;
    for (int d = 1; d <= NACK_WINDOW; d++) {
        if (!track_spent(t, d, now))
            continue;
        spent = 1;
        if (!track_only_padding(t, (uint16_t)(t->high - d)))
            return track_unrepairable(t, NACKS_SPENT);
    }
    if (spent) {
        gaps_t padding = {{0, 0}};
        for (int d = 1; d <= NACK_WINDOW; d++)
            if (track_spent(t, d, now))
                gaps_set(&padding, (unsigned)d);
        t->missing.word[0] &= ~padding.word[0];
        t->missing.word[1] &= ~padding.word[1];
    }
    double allowance = reorder_allowance(t);
    long due[NACK_WINDOW];
    int n = 0;
    for (int d = 1; d <= NACK_WINDOW; d++) {
        if (!gaps_has(&t->missing, (unsigned)d))
            continue;
        int slot = (int)((t->high - d) & (NACK_WINDOW - 1));
        int tries = t->tries[slot];
        if (tries == 0 ? now - t->since[slot] >= allowance
                       : (tries < MAX_NACKS && now - t->last[slot] >= backoff(t->retry, tries))) {
            t->tries[slot] = (uint8_t)(tries + 1);
            t->last[slot] = now;
            due[n++] = (t->high - d) & 0xFFFF;
        }
    }
    return call_nack(t, due, n);
}

/* InboundTrack._nack: gap bookkeeping for one video packet; 1 to hand it on, 0 not to, -1 on error. A
   packet not handed on, or one that fills a gap we NACKed (a retransmission), is taken back out of the
   receiver-report count: the publisher's browser reads its uplink's loss before repair. */
static int track_nack(Inlet *inlet, InletTrack *t, uint16_t seq) {
    if (t->high < 0) {
        t->high = seq;
        return 1;
    }
    unsigned delta = (uint16_t)(seq - t->high);
    double now;
    if (delta > 0 && delta < 0x8000) {
        now = inlet_now(inlet);
        if (NOW_FAILED(now))
            return -1;
        uint16_t before = (uint16_t)t->high;
        t->high = seq;
        if (delta - 1 > MAX_REPAIR_GAP)
            return track_unrepairable(t, GAP_TOO_LONG) < 0 ? -1 : 1;
        uint16_t fell[NACK_WINDOW]; /* the gaps this packet pushes out of the window, still open */
        int falling = 0;
        for (unsigned d = NACK_WINDOW - delta + 1; d <= NACK_WINDOW; d++)
            if (gaps_has(&t->missing, d))
                fell[falling++] = (uint16_t)(before - d);
        gaps_shift(&t->missing, delta);
        for (unsigned k = 1; k < delta; k++) { /* seq - k is missing now */
            int slot = (int)((seq - k) & (NACK_WINDOW - 1));
            gaps_set(&t->missing, k);
            t->since[slot] = t->last[slot] = now;
            t->tries[slot] = 0;
        }
        for (int i = 0; i < falling; i++) /* padding falls out forgotten (InboundTrack._nack) */
            if (!track_only_padding(t, fell[i]))
                return track_unrepairable(t, GAP_OUT_OF_WINDOW) < 0 ? -1 : 1;
    } else {
        unsigned distance = (uint16_t)(t->high - seq);
        if (distance < 1 || distance > NACK_WINDOW || !gaps_has(&t->missing, distance)) {
            t->packets_received -= 1;
            return 0; /* a duplicate, or older than what we still wait for */
        }
        gaps_clear(&t->missing, distance);
        now = inlet_now(inlet);
        if (NOW_FAILED(now))
            return -1;
        int slot = (int)(seq & (NACK_WINDOW - 1));
        if (t->tries[slot] > 0)
            t->packets_received -= 1;
        if (t->tries[slot] == 1) /* NACKed once: the publisher's answer took a round trip */
            track_sample_rtt(t, now - t->last[slot]);
    }
    if (gaps_any(&t->missing) && track_repair(t, now) < 0)
        return -1;
    return 1;
}

/* request(ssrc, lost): InboundTrack.request, a subscriber's NACK for packets that never reached us. */
static PyObject *inlet_request(Inlet *self, PyObject *args) {
    unsigned long ssrc;
    PyObject *lost;
    if (!PyArg_ParseTuple(args, "kO", &ssrc, &lost))
        return NULL;
    InletTrack *t = inlet_find(self, (uint32_t)ssrc);
    if (t == NULL || t->high < 0)
        Py_RETURN_NONE;
    double now = inlet_now(self);
    if (NOW_FAILED(now))
        return NULL;
    PyObject *iterator = PyObject_GetIter(lost);
    if (iterator == NULL)
        return NULL;
    long due[NACK_WINDOW];
    int n = 0;
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        long seq = PyLong_AsLong(item) & 0xFFFF;
        Py_DECREF(item);
        if (PyErr_Occurred())
            break;
        unsigned distance = (uint16_t)(t->high - seq);
        if (distance < 1 || distance > NACK_WINDOW || !gaps_has(&t->missing, distance))
            continue;
        int slot = (int)(seq & (NACK_WINDOW - 1));
        int tries = t->tries[slot];
        if (tries < MAX_NACKS && (tries == 0 || now - t->last[slot] >= backoff(t->retry, tries))) {
            t->tries[slot] = (uint8_t)(tries + 1);
            t->last[slot] = now;
            due[n++] = seq;
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred() || call_nack(t, due, n) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *inlet_set_transport_cc(Inlet *self, PyObject *args) {
    int tcc_id;
    double interval;
    PyObject *on_feedback;
    if (!PyArg_ParseTuple(args, "idO", &tcc_id, &interval, &on_feedback))
        return NULL;
    if (tcc_id < 0 || tcc_id > 14) {
        PyErr_SetString(PyExc_ValueError, "a one-byte extension id is 1-14 (0: off)");
        return NULL;
    }
    self->tcc_id = tcc_id;
    self->feedback_interval = interval;
    Py_INCREF(on_feedback);
    Py_XSETREF(self->on_feedback, on_feedback);
    Py_RETURN_NONE;
}

/* arrivals() -> [(seq, at), ...] in arrival order, and forget them */
static PyObject *inlet_arrivals(Inlet *self, PyObject *unused) {
    PyObject *list = PyList_New(self->arrival_count);
    if (list == NULL)
        return NULL;
    for (int i = 0; i < self->arrival_count; i++) {
        PyObject *item = Py_BuildValue("(id)", (int)self->arrival_seq[i], self->arrival_at[i]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    self->arrival_count = 0;
    return list;
}

static PyObject *inlet_set_clock(Inlet *self, PyObject *clock) {
    Py_INCREF(clock);
    Py_XSETREF(self->clock, clock);
    Py_RETURN_NONE;
}

/* seam.inbound._one_byte_element: the offset of element ``wanted``'s header byte in an RFC 8285 one-byte
   extension block, -1 if absent, -2 if the block runs past the packet or the element's ``size`` data
   bytes do (malformed: the packet is dropped, as the Python path's IndexError drops it). */
static Py_ssize_t one_byte_element(const unsigned char *data, Py_ssize_t length, Py_ssize_t start, Py_ssize_t end,
                                   int wanted, int size) {
    while (start < end) {
        if (start >= length)
            return -2;
        uint8_t byte = data[start];
        if (byte == 0) {
            start += 1;
            continue;
        }
        int id = byte >> 4;
        if (id == 15)
            break;
        if (id == wanted)
            return start + size < length ? start : -2;
        start += 2 + (byte & 0x0F);
    }
    return -1;
}

static double wall_clock(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* LeanReceiver.arrived: note a transport-wide sequence number's arrival; call on_feedback when due. */
static int inlet_arrived(Inlet *self, uint16_t seq) {
    double now = inlet_now(self);
    if (NOW_FAILED(now))
        return -1;
    if (self->arrival_count < MAX_ARRIVALS) {
        self->arrival_seq[self->arrival_count] = seq;
        self->arrival_at[self->arrival_count++] = now;
    }
    if (now < self->feedback_due || self->on_feedback == NULL)
        return 0;
    self->feedback_due = now + self->feedback_interval;
    PyObject *done = PyObject_CallNoArgs(self->on_feedback);
    Py_XDECREF(done);
    return done == NULL ? -1 : 0;
}

/* InboundTrack.on_srtp on an unprotected packet: header, statistics, NACK bookkeeping, hand on. */
static PyObject *track_receive(Inlet *inlet, InletTrack *t, const unsigned char *plain, Py_ssize_t length) {
    if (length < 12)
        Py_RETURN_NONE;
    t->lean_packets += 1;
    uint8_t first = plain[0], second = plain[1];
    uint16_t seq = (uint16_t)(plain[2] << 8 | plain[3]);
    uint32_t timestamp = (uint32_t)plain[4] << 24 | (uint32_t)plain[5] << 16 | (uint32_t)plain[6] << 8 | plain[7];
    Py_ssize_t offset = 12 + 4 * (first & 0x0F);
    int level = -1;
    long transport_seq = -1;
    if (first & 0x10) {
        if (offset + 3 >= length)
            Py_RETURN_NONE; /* malformed: aiortc's parser would refuse it too */
        Py_ssize_t words = plain[offset + 2] << 8 | plain[offset + 3];
        if (plain[offset] == 0xBE && plain[offset + 1] == 0xDE) {
            Py_ssize_t start = offset + 4, stop = offset + 4 + 4 * words;
            if (t->level_id) {
                Py_ssize_t at = one_byte_element(plain, length, start, stop, t->level_id, 1);
                if (at == -2)
                    Py_RETURN_NONE;
                if (at >= 0)
                    level = plain[at + 1] & 0x7F;
            }
            if (inlet->tcc_id) {
                Py_ssize_t at = one_byte_element(plain, length, start, stop, inlet->tcc_id, 2);
                if (at == -2)
                    Py_RETURN_NONE;
                if (at >= 0 && (plain[at] & 0x0F) == 1)
                    transport_seq = plain[at + 1] << 8 | plain[at + 2];
            }
        }
        offset += 4 + 4 * words;
    }
    Py_ssize_t end = (first & 0x20) ? length - plain[length - 1] : length;
    if (end < offset)
        Py_RETURN_NONE;
    if (transport_seq >= 0 && inlet_arrived(inlet, (uint16_t)transport_seq) < 0)
        return NULL;
    t->packets_received += 1;
    unsigned delta = (uint16_t)(seq - t->max_seq);
    if (delta > 0 && delta < 0x8000) { /* aiortc's uint16_gt(seq, max_seq): a packet in order */
        long long arrival = (long long)(wall_clock() * t->clockrate);
        if (seq < t->max_seq)
            t->cycles += 1 << 16;
        t->max_seq = seq;
        if ((long long)timestamp != t->last_timestamp) {
            long long diff = (arrival - t->last_arrival) - ((long long)timestamp - t->last_timestamp);
            if (diff < 0)
                diff = -diff;
            t->jitter_q4 += diff - ((t->jitter_q4 + 8) >> 4);
        }
        t->last_arrival = arrival;
        t->last_timestamp = timestamp;
    }
    if (t->video) {
        track_note(t, (uint16_t)seq, plain + offset, end - offset, second >> 7);
        if (delta == 1 && !gaps_any(&t->missing)) {
            t->high = seq;
        } else {
            int handed = track_nack(inlet, t, seq);
            if (handed < 0)
                return NULL;
            if (!handed)
                Py_RETURN_NONE; /* a duplicate, or a packet given up on: subscribers are past it */
        }
    }
    PyObject *args[5];
    args[0] = PyBytes_FromStringAndSize((const char *)plain + offset, end - offset);
    args[1] = PyLong_FromLong(seq);
    args[2] = PyLong_FromUnsignedLong(timestamp);
    args[3] = PyLong_FromLong(second >> 7);
    args[4] = PyLong_FromLong(level);
    PyObject *done = NULL;
    if (args[0] && args[1] && args[2] && args[3] && args[4])
        done = PyObject_Vectorcall(t->on_rtp, args, 5, NULL);
    for (int i = 0; i < 5; i++)
        Py_XDECREF(args[i]);
    return done;
}

/* seam.guard: what a datagram is (RFC 7983 first byte, shortest header), or why it is dropped. */
enum {
    KIND_STUN = 0,
    KIND_DTLS,
    KIND_RTP,
    KIND_RTCP,
    DROP_SHORT,
    DROP_MALFORMED,
    DROP_UNKNOWN_KIND,
    DROP_UNKNOWN_SOURCE,
    DROP_REFUSED
};
#define FIRST_DROP DROP_SHORT
#define STUN_HEADER 20
#define DTLS_HEADER 13
#define RTP_HEADER 12
#define RTCP_HEADER 8

/* 1 if (addr[0], addr[1]) is in ``validated``, 0 if not, -1 with an exception set. */
static int source_validated(PyObject *addr, PyObject *validated) {
    if (validated == NULL || !PyTuple_Check(addr) || PyTuple_GET_SIZE(addr) < 2)
        return 0;
    if (PyTuple_GET_SIZE(addr) == 2)
        return PySet_Contains(validated, addr);
    PyObject *pair = PyTuple_GetSlice(addr, 0, 2); /* IPv6: (host, port, flowinfo, scope_id) */
    if (pair == NULL)
        return -1;
    int found = PySet_Contains(validated, pair);
    Py_DECREF(pair);
    return found;
}

/* guard.admit: a KIND_*, a DROP_*, or -1 with an exception set. */
static int admit(const unsigned char *d, Py_ssize_t size, PyObject *addr, PyObject *validated) {
    if (size == 0)
        return DROP_SHORT;
    unsigned char first = d[0];
    int kind;
    Py_ssize_t need;
    if (first < 4) {
        if (size < STUN_HEADER)
            return DROP_SHORT;
        if (d[4] != 0x21 || d[5] != 0x12 || d[6] != 0xA4 || d[7] != 0x42 || (d[2] << 8 | d[3]) != size - STUN_HEADER ||
            (size & 3))
            return DROP_MALFORMED; /* no magic cookie, or a length field that does not count the rest */
        return KIND_STUN;
    }
    if (first > 19 && first < 64) {
        kind = KIND_DTLS;
        need = DTLS_HEADER;
    } else if (first > 127 && first < 192) {
        if (size < RTCP_HEADER)
            return DROP_SHORT;
        int rtcp = d[1] > 191 && d[1] < 224;
        kind = rtcp ? KIND_RTCP : KIND_RTP;
        need = rtcp ? RTCP_HEADER : RTP_HEADER;
    } else {
        return DROP_UNKNOWN_KIND;
    }
    if (size < need)
        return DROP_SHORT;
    int known = source_validated(addr, validated);
    if (known < 0)
        return -1;
    return known ? kind : DROP_UNKNOWN_SOURCE;
}

/* Count a refused datagram through Drops.add; it goes nowhere else. */
static PyObject *inlet_drop(Inlet *self, int reason) {
    if (self->on_drop == NULL)
        Py_RETURN_NONE;
    PyObject *code = PyLong_FromLong(reason);
    if (code == NULL)
        return NULL;
    PyObject *done = PyObject_CallOneArg(self->on_drop, code);
    Py_DECREF(code);
    return done;
}

/* receive(data, addr, original): the guard first; an SRTP packet of a known SSRC is handled here,
   anything else admitted goes to original (aioice), whose exceptions are counted, never raised. */
static PyObject *inlet_receive(Inlet *self, PyObject *data, PyObject *addr, PyObject *original) {
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *d = (const unsigned char *)view.buf;
    Py_ssize_t size = view.len;
    int kind = admit(d, size, addr, self->validated);
    if (kind < 0 || kind >= FIRST_DROP) {
        PyBuffer_Release(&view);
        return kind < 0 ? NULL : inlet_drop(self, kind);
    }
    InletTrack *t = NULL;
    if (kind == KIND_RTP && self->ctx != NULL)
        t = inlet_find(self, (uint32_t)d[8] << 24 | (uint32_t)d[9] << 16 | (uint32_t)d[10] << 8 | d[11]);
    if (t != NULL) {
        int length = (int)size;
        int refused = size > SRTP_BUFFER; /* longer than any packet of ours */
        if (!refused) {
            memcpy(inbound, d, (size_t)size);
            refused = srtp_unprotect(self->ctx, inbound, &length) != 0; /* a replay or a forgery */
        }
        PyBuffer_Release(&view);
        if (refused)
            Py_RETURN_NONE; /* aiortc drops it too */
        return track_receive(self, t, inbound, length);
    }
    PyBuffer_Release(&view);
    PyObject *args[2] = {data, addr};
    PyObject *done = PyObject_Vectorcall(original, args, 2, NULL);
    if (done == NULL && PyErr_ExceptionMatches(PyExc_Exception)) {
        PyErr_Clear(); /* aioice's STUN parser raises struct.error on a short attribute */
        return inlet_drop(self, DROP_REFUSED);
    }
    return done;
}

static PyMethodDef inlet_methods[] = {
    {"guard", (PyCFunction)inlet_guard, METH_VARARGS,
     "guard(validated, on_drop): the set of proven (host, port) and Drops.add, for seam.guard's rules."},
    {"set_session", (PyCFunction)inlet_set_session, METH_VARARGS,
     "set_session(session, ctx): the connection's inbound SRTP (a pylibsrtp Session and its context)."},
    {"add", (PyCFunction)inlet_add, METH_VARARGS, "Take over an SSRC's packets (statistics and gaps carried over)."},
    {"remove", (PyCFunction)inlet_remove, METH_O, "Hand an SSRC's packets back to the Python path."},
    {"clear", (PyCFunction)inlet_clear, METH_NOARGS, "Forget every track and the SRTP session."},
    {"stats", (PyCFunction)inlet_stats, METH_O, "An SSRC's statistics, packet count and NACK state, or None."},
    {"request", (PyCFunction)inlet_request, METH_VARARGS,
     "request(ssrc, lost): NACK now those of ``lost`` still open upstream (InboundTrack.request)."},
    {"set_clock", (PyCFunction)inlet_set_clock, METH_O, "set_clock(clock): time gaps by clock() (LeanReceiver.clock)."},
    {"set_transport_cc", (PyCFunction)inlet_set_transport_cc, METH_VARARGS,
     "set_transport_cc(ext_id, interval, on_feedback): note transport-wide sequence numbers (transport_cc)."},
    {"arrivals", (PyCFunction)inlet_arrivals, METH_NOARGS, "The (seq, at) noted since the last call, in order."},
    {NULL},
};

static PyMemberDef inlet_members[] = {
    {"feedback_due", T_DOUBLE, offsetof(Inlet, feedback_due), 0,
     "when the next transport-cc feedback is due (by the inlet's clock): one due time for both receive paths"},
    {NULL},
};

static PyTypeObject InletType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "server.media._fastpath.Inlet",
    .tp_doc = "One publisher connection's lean receive path, compiled (seam.receive's and seam.inbound's rules).",
    .tp_basicsize = sizeof(Inlet),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_traverse = (traverseproc)inlet_traverse,
    .tp_clear = (inquiry)inlet_gc_clear,
    .tp_dealloc = (destructor)inlet_dealloc,
    .tp_methods = inlet_methods,
    .tp_members = inlet_members,
};

/* One ICE socket's datagram_received: its inlet, and the callback it wraps. */
typedef struct {
    PyObject_HEAD
    PyObject *inlet;
    PyObject *original;
    vectorcallfunc vectorcall;
} InletHook;

static PyObject *hook_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    InletHook *self = (InletHook *)callable;
    if (PyVectorcall_NARGS(nargsf) != 2 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "datagram_received(data, addr)");
        return NULL;
    }
    return inlet_receive((Inlet *)self->inlet, args[0], args[1], self->original);
}

static int hook_traverse(InletHook *self, visitproc visit, void *arg) {
    Py_VISIT(self->inlet);
    Py_VISIT(self->original);
    return 0;
}

static int hook_clear(InletHook *self) {
    Py_CLEAR(self->inlet);
    Py_CLEAR(self->original);
    return 0;
}

static void hook_dealloc(InletHook *self) {
    PyObject_GC_UnTrack(self);
    hook_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject InletHookType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "server.media._fastpath.InletHook",
    .tp_doc = "datagram_received(data, addr) for one ICE socket, through its connection's Inlet.",
    .tp_basicsize = sizeof(InletHook),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(InletHook, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = (traverseproc)hook_traverse,
    .tp_clear = (inquiry)hook_clear,
    .tp_dealloc = (destructor)hook_dealloc,
};

/* hook(inlet, original) -> a datagram_received for one ICE socket */
static PyObject *make_hook(PyObject *module, PyObject *args) {
    PyObject *inlet, *original;
    if (!PyArg_ParseTuple(args, "O!O", &InletType, &inlet, &original))
        return NULL;
    InletHook *hook = PyObject_GC_New(InletHook, &InletHookType);
    if (hook == NULL)
        return NULL;
    Py_INCREF(inlet);
    hook->inlet = inlet;
    Py_INCREF(original);
    hook->original = original;
    hook->vectorcall = hook_vectorcall;
    PyObject_GC_Track(hook);
    return (PyObject *)hook;
}

static PyMethodDef module_methods[] = {
    {"fan_out", (PyCFunction)(void (*)(void))fan_out, METH_FASTCALL,
     "fan_out(outlets, payload, seq, timestamp, marker, video) -> copies sent | WANT_KEYFRAME | UNLINKED."},
    {"is_vp8_keyframe", is_vp8_keyframe, METH_O, "Does this VP8 RTP payload start a keyframe?"},
    {"hook", make_hook, METH_VARARGS, "hook(inlet, original) -> datagram_received for one ICE socket."},
    {"set_srtp", set_srtp, METH_VARARGS, "set_srtp(protect, unprotect): libsrtp's functions, as hearth.srtp_function capsules."},
    {NULL},
};

static struct PyModuleDef outlet_module = {
    PyModuleDef_HEAD_INIT, "server.media._fastpath", "The per-copy forwarding path, compiled.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__fastpath(void) {
    if (PyType_Ready(&OutletType) < 0 || PyType_Ready(&InletType) < 0 || PyType_Ready(&InletHookType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&outlet_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&OutletType);
    Py_INCREF(&InletType);
    if (PyModule_AddObject(module, "Inlet", (PyObject *)&InletType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddObject(module, "Outlet", (PyObject *)&OutletType) < 0 ||
        PyModule_AddIntConstant(module, "SENT", SENT) < 0 || PyModule_AddIntConstant(module, "SKIPPED", SKIPPED) < 0 ||
        PyModule_AddIntConstant(module, "NEEDS_KEYFRAME", NEEDS_KEYFRAME) < 0 ||
        PyModule_AddIntConstant(module, "UNLINKED", UNLINKED) < 0 ||
        PyModule_AddIntConstant(module, "LAGGING", LAGGING) < 0 ||
        PyModule_AddIntConstant(module, "WANT_KEYFRAME", WANT_KEYFRAME_FLAG) < 0 ||
        PyModule_AddIntConstant(module, "UNLINKED_ANY", UNLINKED_FLAG) < 0 ||
        PyModule_AddIntConstant(module, "SENT_MASK", WANT_KEYFRAME_FLAG - 1) < 0 ||
        PyModule_AddIntConstant(module, "HISTORY_SIZE", HISTORY_SIZE) < 0 ||
        PyModule_AddIntConstant(module, "RESTART_WINDOW", RESTART_WINDOW) < 0 ||
        PyModule_AddIntConstant(module, "RETRANSMIT_PERCENT", RETRANSMIT_PERCENT) < 0 ||
        PyModule_AddIntConstant(module, "STALE_REPAIR_TICKS", STALE_REPAIR_TICKS) < 0 ||
        PyModule_AddIntConstant(module, "NACK_WINDOW", NACK_WINDOW) < 0 ||
        PyModule_AddIntConstant(module, "MAX_ARRIVALS", MAX_ARRIVALS) < 0 ||
        PyModule_AddIntConstant(module, "REORDER_JITTERS", REORDER_JITTERS) < 0 ||
        PyModule_AddIntConstant(module, "MAX_NACKS", MAX_NACKS) < 0 ||
        PyModule_AddIntConstant(module, "MAX_REPAIR_GAP", MAX_REPAIR_GAP) < 0 ||
        PyModule_AddObject(module, "REORDER_DELAY", PyFloat_FromDouble(REORDER_DELAY)) < 0 ||
        PyModule_AddObject(module, "MAX_REORDER_DELAY", PyFloat_FromDouble(MAX_REORDER_DELAY)) < 0 ||
        PyModule_AddObject(module, "NACK_RETRY_INTERVAL", PyFloat_FromDouble(NACK_RETRY_INTERVAL)) < 0 ||
        PyModule_AddObject(module, "RESEND_INTERVAL", PyFloat_FromDouble(RESEND_INTERVAL)) < 0 ||
        PyModule_AddObject(module, "RTT_GAIN", PyFloat_FromDouble(RTT_GAIN)) < 0 ||
        PyModule_AddObject(module, "RETRY_MARGIN", PyFloat_FromDouble(RETRY_MARGIN)) < 0 ||
        PyModule_AddObject(module, "MIN_RETRY_INTERVAL", PyFloat_FromDouble(MIN_RETRY_INTERVAL)) < 0 ||
        PyModule_AddObject(module, "MAX_RETRY_INTERVAL", PyFloat_FromDouble(MAX_RETRY_INTERVAL)) < 0 ||
        PyModule_AddObject(module, "MAX_RTT_SAMPLE", PyFloat_FromDouble(MAX_RTT_SAMPLE)) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    /* the constants the Python path defines too: tests/media/test_fastpath.py holds them equal */
    if (PyModule_AddIntConstant(module, "HISTORY_SIZE", HISTORY_SIZE) < 0 ||
        PyModule_AddIntConstant(module, "NACK_WINDOW", NACK_WINDOW) < 0 ||
        PyModule_AddIntConstant(module, "PICTURE_RING", PICTURE_RING) < 0 ||
        PyModule_AddIntConstant(module, "RESTART_WINDOW", RESTART_WINDOW) < 0 ||
        PyModule_AddIntConstant(module, "SRTP_TRAILER", SRTP_TRAILER) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
