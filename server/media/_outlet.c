/*
 * server.media._outlet: the per-copy forwarding path, compiled.
 *
 * Why this exists: at N = 8 every received packet is sent 7 times, and in Python each copy cost
 * about 6 us of server CPU in place (sequence rewriting in ``Sink.forward``, header, SRTP and
 * ``sendto`` in ``LeanSender.send``), a third of the 20 us budget per delivered packet. Here the
 * same rules run in C: one call per received packet (``fan_out``) walks the subscribers' outlets.
 *
 * This file holds mechanics only; the rules it follows are written out, and tested, in Python:
 * ``forwarder.Sink.forward`` (sequence and timestamp rewriting, keyframe waits, lag) and
 * ``seam.send.LeanSender.send`` (RTP header, SRTP protect, NACK history, sendto). Both paths must
 * put the same bytes on the wire: ``tests/media/test_outlet.py`` runs them side by side.
 *
 * It links against nothing: the SRTP context and ``srtp_protect`` come as addresses from
 * pylibsrtp's cffi binding (``seam.send`` reads them there), and the Session object that owns the
 * context is kept referenced so the context outlives every use. The socket is a dup of the ICE
 * socket's descriptor, so a descriptor number the event loop closes and reuses is never written to.
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
#define SRTP_BUFFER 1500    /* pylibsrtp Session's buffer */
#define SRTP_TRAILER 144    /* seam.transport.SRTP_TRAILER */
#define MAX_PLAIN (SRTP_BUFFER - SRTP_TRAILER)
#define MAX_EXTENSION 64
#define NTP_EPOCH_OFFSET 2208988800ULL

/* Outcomes of one copy, as ``Sink.forward`` + ``LeanSender.send`` decide them. */
enum { SENT = 0, SKIPPED = 1, NEEDS_KEYFRAME = 2, UNLINKED = 3, LAGGING = 4 };
#define WANT_KEYFRAME_FLAG (1 << 16)
#define UNLINKED_FLAG (1 << 17)

typedef int (*srtp_protect_fn)(void *ctx, void *rtp, int *length);

static srtp_protect_fn srtp_protect = NULL;
static unsigned char packet[SRTP_BUFFER]; /* one at a time: the GIL is held throughout */

typedef struct {
    PyObject_HEAD
    PyObject *session; /* the pylibsrtp Session owning ``ctx``: referenced while attached */
    void *ctx;
    int fd; /* our dup of the nominated pair's socket, -1 while detached */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    uint32_t ssrc;
    uint32_t ts_offset;
    uint8_t first; /* 0x80, or 0x90 with the mid extension */
    uint8_t payload_type;
    uint8_t extension[MAX_EXTENSION];
    int extension_len;
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
    return 0;
}

static PyObject *outlet_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    Outlet *self = (Outlet *)type->tp_alloc(type, 0); /* zeroed: history empty, session NULL */
    if (self != NULL)
        self->fd = -1;
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

/* LeanSender.send: header + extension + payload, protect in place, keep, send. */
static int outlet_send(Outlet *self, const unsigned char *payload, Py_ssize_t size, int marker, uint32_t timestamp,
                       uint16_t seq) {
    Py_ssize_t start = 12 + self->extension_len;
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
    memcpy(packet + start, payload, (size_t)size);
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
    } else if ((uint16_t)(seq - self->start_in) & 0x8000) {
        return SKIPPED; /* from before our restart point: its sequence number is taken */
    } else if (!((uint16_t)(seq - self->high_in) & 0x8000)) {
        self->high_in = seq;
        if ((uint16_t)(seq - self->start_in) > RESTART_WINDOW)
            self->start_in = (uint16_t)(seq - RESTART_WINDOW);
    }
    uint16_t out = (uint16_t)(seq + self->seq_offset);
    if (!((uint16_t)(out - self->next_out) & 0x8000))
        self->next_out = (uint16_t)(out + 1);
    if (outlet_send(self, payload, size, marker, timestamp + self->ts_offset, out) == SENT)
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
    PyObject *session;
    unsigned long long ctx;
    int fd, payload_type;
    const char *host;
    int port;
    unsigned long ssrc;
    const char *extension;
    Py_ssize_t extension_len;
    if (!PyArg_ParseTuple(args, "OKisikiy#", &session, &ctx, &fd, &host, &port, &ssrc, &payload_type, &extension,
                          &extension_len))
        return NULL;
    if (srtp_protect == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "set_protect() has not been called");
        return NULL;
    }
    if (extension_len > MAX_EXTENSION || ctx == 0) {
        PyErr_SetString(PyExc_ValueError, "extension too long or no SRTP context");
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
    self->ctx = (void *)(uintptr_t)ctx;
    self->ssrc = (uint32_t)ssrc;
    self->payload_type = (uint8_t)(payload_type & 0x7F);
    memcpy(self->extension, extension, (size_t)extension_len);
    self->extension_len = (int)extension_len;
    self->first = extension_len ? 0x90 : 0x80;
    Py_RETURN_NONE;
}

static PyObject *outlet_detach(Outlet *self, PyObject *unused) {
    outlet_close_socket(self);
    self->active = 0;
    self->waiting_keyframe = self->video;
    Py_RETURN_NONE;
}

static PyObject *outlet_restart(Outlet *self, PyObject *unused) {
    self->active = 0;
    Py_RETURN_NONE;
}

static PyObject *outlet_forward_method(Outlet *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer payload;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "forward(payload, seq, timestamp, marker, keyframe)");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &payload, PyBUF_SIMPLE) < 0)
        return NULL;
    unsigned long seq = PyLong_AsUnsignedLongMask(args[1]);
    unsigned long timestamp = PyLong_AsUnsignedLongMask(args[2]);
    int marker = PyObject_IsTrue(args[3]);
    int keyframe = PyObject_IsTrue(args[4]);
    if (PyErr_Occurred()) {
        PyBuffer_Release(&payload);
        return NULL;
    }
    int outcome = outlet_forward(self, payload.buf, payload.len, (uint16_t)seq, (uint32_t)timestamp, marker, keyframe);
    PyBuffer_Release(&payload);
    return PyLong_FromLong(outcome);
}

static PyObject *outlet_retransmit(Outlet *self, PyObject *lost) {
    PyObject *iterator = PyObject_GetIter(lost);
    if (iterator == NULL)
        return NULL;
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        unsigned long seq = PyLong_AsUnsignedLongMask(item) & 0xFFFF;
        Py_DECREF(item);
        if (PyErr_Occurred())
            break;
        PyObject *kept = self->history[seq & HISTORY_MASK];
        if (kept == NULL || self->fd < 0)
            continue;
        const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(kept);
        if (((unsigned long)data[2] << 8 | data[3]) != seq)
            continue; /* overwritten by a newer packet: older ones are gone */
        sendto(self->fd, data, (size_t)PyBytes_GET_SIZE(kept), 0, (struct sockaddr *)&self->addr, self->addr_len);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred())
        return NULL;
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
    {"forward", (PyCFunction)(void (*)(void))outlet_forward_method, METH_FASTCALL,
     "forward(payload, seq, timestamp, marker, keyframe) -> outcome (SENT, SKIPPED, NEEDS_KEYFRAME, ...)."},
    {"retransmit", (PyCFunction)outlet_retransmit, METH_O, "Answer a NACK from the history of protected packets."},
    {NULL},
};

static PyMemberDef outlet_members[] = {
    {"packets_sent", T_ULONGLONG, offsetof(Outlet, packets_sent), READONLY, NULL},
    {"octets", T_ULONGLONG, offsetof(Outlet, octets), READONLY, NULL},
    {"dropped", T_ULONGLONG, offsetof(Outlet, dropped), READONLY, NULL},
    {"sr_ntp", T_ULONGLONG, offsetof(Outlet, sr_ntp), READONLY, NULL},
    {"sr_rtp", T_UINT, offsetof(Outlet, sr_rtp), READONLY, NULL},
    {"ssrc", T_UINT, offsetof(Outlet, ssrc), READONLY, NULL},
    {NULL},
};

static PyGetSetDef outlet_getset[] = {
    {"linked", (getter)outlet_linked, NULL, "True while a socket is attached.", NULL},
    {"active", (getter)outlet_active, NULL, "True while packets flow (False: waiting to start).", NULL},
    {"waiting_keyframe", (getter)outlet_waiting, NULL, "True while video waits for a keyframe.", NULL},
    {NULL},
};

static PyTypeObject OutletType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "server.media._outlet.Outlet",
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
    Py_buffer payload;
    if (PyObject_GetBuffer(args[1], &payload, PyBUF_SIMPLE) < 0)
        return NULL;
    unsigned long seq = PyLong_AsUnsignedLongMask(args[2]);
    unsigned long timestamp = PyLong_AsUnsignedLongMask(args[3]);
    int marker = PyObject_IsTrue(args[4]);
    int video = PyObject_IsTrue(args[5]);
    if (PyErr_Occurred()) {
        PyBuffer_Release(&payload);
        return NULL;
    }
    int keyframe = video && vp8_keyframe(payload.buf, payload.len);
    PyObject *outlets = args[0];
    long result = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(outlets); i++) {
        PyObject *item = PyList_GET_ITEM(outlets, i);
        if (Py_TYPE(item) != &OutletType)
            continue;
        switch (outlet_forward((Outlet *)item, payload.buf, payload.len, (uint16_t)seq, (uint32_t)timestamp, marker,
                               keyframe)) {
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
    PyBuffer_Release(&payload);
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

static PyObject *set_protect(PyObject *module, PyObject *arg) {
    unsigned long long address = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred())
        return NULL;
    srtp_protect = (srtp_protect_fn)(uintptr_t)address;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"fan_out", (PyCFunction)(void (*)(void))fan_out, METH_FASTCALL,
     "fan_out(outlets, payload, seq, timestamp, marker, video) -> copies sent | WANT_KEYFRAME | UNLINKED."},
    {"is_vp8_keyframe", is_vp8_keyframe, METH_O, "Does this VP8 RTP payload start a keyframe?"},
    {"set_protect", set_protect, METH_O, "The address of libsrtp's srtp_protect (from pylibsrtp's binding)."},
    {NULL},
};

static struct PyModuleDef outlet_module = {
    PyModuleDef_HEAD_INIT, "server.media._outlet", "The per-copy forwarding path, compiled.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__outlet(void) {
    if (PyType_Ready(&OutletType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&outlet_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&OutletType);
    if (PyModule_AddObject(module, "Outlet", (PyObject *)&OutletType) < 0 ||
        PyModule_AddIntConstant(module, "SENT", SENT) < 0 || PyModule_AddIntConstant(module, "SKIPPED", SKIPPED) < 0 ||
        PyModule_AddIntConstant(module, "NEEDS_KEYFRAME", NEEDS_KEYFRAME) < 0 ||
        PyModule_AddIntConstant(module, "UNLINKED", UNLINKED) < 0 ||
        PyModule_AddIntConstant(module, "LAGGING", LAGGING) < 0 ||
        PyModule_AddIntConstant(module, "WANT_KEYFRAME", WANT_KEYFRAME_FLAG) < 0 ||
        PyModule_AddIntConstant(module, "UNLINKED_ANY", UNLINKED_FLAG) < 0 ||
        PyModule_AddIntConstant(module, "SENT_MASK", WANT_KEYFRAME_FLAG - 1) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
