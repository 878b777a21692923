#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

static long sys_bpf(int cmd, union bpf_attr *a) { return syscall(__NR_bpf, cmd, a, sizeof(*a)); }
static void line(const char *what, int ok) { printf("%-50s %s\n", what, ok ? "ok" : strerror(errno)); }

int main(int argc, char **argv) {
    const char *role = argc > 1 ? argv[1] : "?";
    char buf[4096]; FILE *f = fopen("/proc/self/status", "r");
    while (fgets(buf, sizeof buf, f)) if (!strncmp(buf, "Cap", 3) || !strncmp(buf, "Uid", 3) || !strncmp(buf, "Gid", 3) || !strncmp(buf, "Groups", 6)) printf("%s", buf);
    fclose(f);
    /* socket in /run/argus */
    char path[108]; snprintf(path, sizeof path, "/run/argus/%s.sock", role); unlink(path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0); struct sockaddr_un sa = {.sun_family = AF_UNIX}; strcpy(sa.sun_path, path);
    int r = bind(s, (struct sockaddr *)&sa, sizeof sa); line("bind socket in /run/argus", r == 0);
    struct stat st; if (r == 0 && stat(path, &st) == 0) printf("  socket mode %o gid %d\n", st.st_mode & 07777, st.st_gid);
    snprintf(path, sizeof path, "/var/lib/argus/%s.state", role);
    int fd = open(path, O_CREAT | O_WRONLY, 0666); line("create file in /var/lib/argus", fd >= 0);
    if (fd >= 0 && fstat(fd, &st) == 0) printf("  file mode %o gid %d\n", st.st_mode & 07777, st.st_gid);
    line("write /etc (must fail)", open("/etc/argus-probe", O_CREAT | O_WRONLY, 0644) >= 0);
    line("write /usr (must fail)", open("/usr/argus-probe", O_CREAT | O_WRONLY, 0644) >= 0);
    line("read /etc/argus/aegis.yaml", open("/etc/argus/aegis.yaml", O_RDONLY) >= 0);
    line("read /usr/lib/argus/libonnxruntime.so", open("/usr/lib/argus/libonnxruntime.so", O_RDONLY) >= 0);
    union bpf_attr a;
    if (!strcmp(role, "sentinel")) {
        r = mkdir("/sys/fs/bpf/argus/links", 0700); line("mkdir /sys/fs/bpf/argus/links", r == 0 || errno == EEXIST);
        memset(&a, 0, sizeof a); a.map_type = BPF_MAP_TYPE_ARRAY; a.key_size = 4; a.value_size = 8; a.max_entries = 4;
        int m = sys_bpf(BPF_MAP_CREATE, &a); line("bpf(MAP_CREATE) array", m >= 0);
        memset(&a, 0, sizeof a); a.map_type = BPF_MAP_TYPE_LPM_TRIE; a.key_size = 20; a.value_size = 8; a.max_entries = 16; a.map_flags = BPF_F_NO_PREALLOC;
        int l = sys_bpf(BPF_MAP_CREATE, &a); line("bpf(MAP_CREATE) lpm_trie no_prealloc", l >= 0);
        unlink("/sys/fs/bpf/argus/PROBE");
        memset(&a, 0, sizeof a); a.pathname = (unsigned long)"/sys/fs/bpf/argus/PROBE"; a.bpf_fd = m;
        line("bpf(OBJ_PIN) /sys/fs/bpf/argus/PROBE", m >= 0 && sys_bpf(BPF_OBJ_PIN, &a) == 0);
        /* a trivial XDP program: r0 = XDP_PASS; exit */
        struct bpf_insn insns[] = { {.code = 0xb7, .dst_reg = 0, .imm = 2}, {.code = 0x95} };
        memset(&a, 0, sizeof a); a.prog_type = BPF_PROG_TYPE_XDP; a.insns = (unsigned long)insns; a.insn_cnt = 2; a.license = (unsigned long)"GPL";
        int p = sys_bpf(BPF_PROG_LOAD, &a); line("bpf(PROG_LOAD) xdp", p >= 0);
        memset(&a, 0, sizeof a); a.link_create.prog_fd = p; a.link_create.target_ifindex = 1; a.link_create.attach_type = BPF_XDP;
        int k = sys_bpf(BPF_LINK_CREATE, &a); line("bpf(LINK_CREATE) xdp on lo (CAP_NET_ADMIN)", k >= 0);
    } else {
        memset(&a, 0, sizeof a); a.pathname = (unsigned long)"/sys/fs/bpf/argus/PROBE";
        int m = sys_bpf(BPF_OBJ_GET, &a); line("bpf(OBJ_GET) pinned map", m >= 0);
        unsigned int key = 1; unsigned long long val = 42;
        memset(&a, 0, sizeof a); a.map_fd = m; a.key = (unsigned long)&key; a.value = (unsigned long)&val;
        line("bpf(MAP_UPDATE_ELEM) pinned map", m >= 0 && sys_bpf(BPF_MAP_UPDATE_ELEM, &a) == 0);
    }
    fflush(stdout);
    return 0;
}
