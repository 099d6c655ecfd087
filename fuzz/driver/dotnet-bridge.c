// A libFuzzer front for a .NET target: libFuzzer runs here, the code under test runs in one long-lived
// `dotnet` child that SharpFuzz's Fuzzer.LibFuzzer.Run drives.
//
// Theory of operation. SharpFuzz instruments the target's assemblies with AFL-style edge counters that
// write into a 64 KiB map in System V shared memory. This process creates that segment with room for
// the input after the map, starts the child with three environment variables naming the segment and two
// pipes (__LIBFUZZER_SHM_ID, __LIBFUZZER_CONTROL_PIPE_ID, __LIBFUZZER_STATUS_PIPE_ID), and waits for the
// child's first status word. For each input libFuzzer hands us: clear the map, copy the input after it,
// write its length (int32) on the control pipe, read the child's status (int32: 0 ok, anything else an
// uncaught exception, already printed by the child), and copy the map into libFuzzer's extra counters,
// which libFuzzer reads as coverage after this call returns. A crashing input aborts this process, so
// libFuzzer writes it out as crash-<sha1>; a dead child (pipe closed) does the same. A hang is caught by
// libFuzzer's own -timeout, after which the child dies with us (PR_SET_PDEATHSIG).
//
// Configuration: SWITCHYARD_FUZZ_DLL (the instrumented Switchyard.Fuzz.dll) and SWITCHYARD_FUZZ_TARGET
// (the target name it takes as its argument). SWITCHYARD_FUZZ_EDGES_ONLY=1 reports each edge as hit or not,
// without hit counts: run.sh sets it when it merges a corpus, so the committed corpus keeps one input per
// new edge instead of one per new hit-count bucket (several times fewer files for the same edges).
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MapSize = 1 << 16, MaxInput = 1 << 20 };

// libFuzzer treats every byte of this section as a coverage counter (clang's "extra counters").
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t counters[MapSize];

static uint8_t *shared;
static int control_fd = -1;
static int status_fd = -1;
static pid_t child_pid = -1;
static int edges_only;

// On a normal exit (libFuzzer's -max_total_time, -runs, merge) reap the child, so its CPU time is
// counted in ours and run.sh's time log covers both processes.
static void reap_child(void)
{
    if (child_pid > 0)
    {
        close(control_fd);
        kill(child_pid, SIGKILL);
        waitpid(child_pid, NULL, 0);
        child_pid = -1;
    }
}

static void die(const char *what)
{
    fprintf(stderr, "dotnet-bridge: %s: %s\n", what, strerror(errno));
    abort();
}

static void read_exact(int fd, void *buffer, size_t length, const char *what)
{
    uint8_t *at = buffer;
    while (length > 0)
    {
        ssize_t n = read(fd, at, length);
        if (n == 0)
        {
            fprintf(stderr, "dotnet-bridge: the dotnet child closed its status pipe (%s): it crashed or exited\n", what);
            abort();
        }
        if (n < 0)
        {
            if (errno == EINTR)
                continue;
            die(what);
        }
        at += n;
        length -= (size_t)n;
    }
}

static void write_exact(int fd, const void *buffer, size_t length, const char *what)
{
    const uint8_t *at = buffer;
    while (length > 0)
    {
        ssize_t n = write(fd, at, length);
        if (n < 0)
        {
            if (errno == EINTR)
                continue;
            die(what);
        }
        at += n;
        length -= (size_t)n;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dll = getenv("SWITCHYARD_FUZZ_DLL");
    const char *target = getenv("SWITCHYARD_FUZZ_TARGET");
    if (dll == NULL || target == NULL)
    {
        fprintf(stderr, "dotnet-bridge: set SWITCHYARD_FUZZ_DLL and SWITCHYARD_FUZZ_TARGET (fuzz/run.sh does)\n");
        exit(2);
    }

    int shm_id = shmget(IPC_PRIVATE, MapSize + MaxInput, IPC_CREAT | IPC_EXCL | 0600);
    if (shm_id < 0)
        die("shmget");
    shared = shmat(shm_id, NULL, 0);
    if (shared == (void *)-1)
        die("shmat");

    int control[2];
    int status[2];
    if (pipe(control) != 0 || pipe(status) != 0)
        die("pipe");

    const char *edges = getenv("SWITCHYARD_FUZZ_EDGES_ONLY");
    edges_only = edges != NULL && strcmp(edges, "1") == 0;

    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0)
    {
        // The child must not outlive the fuzzer (a libFuzzer timeout or crash exits this process).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        close(control[1]);
        close(status[0]);
        char text[32];
        snprintf(text, sizeof text, "%d", shm_id);
        setenv("__LIBFUZZER_SHM_ID", text, 1);
        snprintf(text, sizeof text, "%d", control[0]);
        setenv("__LIBFUZZER_CONTROL_PIPE_ID", text, 1);
        snprintf(text, sizeof text, "%d", status[1]);
        setenv("__LIBFUZZER_STATUS_PIPE_ID", text, 1);
        execlp("dotnet", "dotnet", dll, target, (char *)NULL);
        fprintf(stderr, "dotnet-bridge: exec dotnet: %s\n", strerror(errno));
        _exit(127);
    }

    child_pid = child;
    atexit(reap_child);
    close(control[0]);
    close(status[1]);
    control_fd = control[1];
    status_fd = status[0];

    int32_t ready;
    read_exact(status_fd, &ready, sizeof ready, "waiting for the child to start");
    // Linux lets an attached segment be marked for removal: it goes when the last process detaches,
    // so no segment is left behind however the run ends.
    shmctl(shm_id, IPC_RMID, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MaxInput)
        return 0;

    memset(shared, 0, MapSize);
    memcpy(shared + MapSize, data, size);
    int32_t length = (int32_t)size;
    write_exact(control_fd, &length, sizeof length, "sending the input length");
    int32_t status;
    read_exact(status_fd, &status, sizeof status, "waiting for the result");
    if (edges_only)
    {
        for (size_t i = 0; i < MapSize; i++)
            counters[i] = shared[i] != 0;
    }
    else
    {
        memcpy(counters, shared, MapSize);
    }
    if (status != 0)
    {
        fprintf(stderr, "dotnet-bridge: the target threw (status %d); the exception is printed above\n", status);
        abort();
    }

    return 0;
}
