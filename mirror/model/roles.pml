/*
 * roles.pml: the mirror package's role protocol (see README.md beside it
 * for how each part maps to mirror/loop.go and mirror/session.go).
 *
 * Two servers (0 and 1) and, with -DARBITER, an arbiter that grants the
 * primary role per epoch. One process runs the whole world: every step is
 * one atomic action of one server or of the environment (crash, restart,
 * MSL cut, LAN partition), and the invariants are checked after each step.
 *
 * Compile-time switches (spin -a -DNAME roles.pml):
 *   ARBITER      the arbiter exists: a server answers clients in epoch e
 *                only while it holds e's grant.
 *   LOSSY        the LAN loses probes and may be partitioned; without it a
 *                probe is answered exactly when the peer is up.
 *   ALONE_CLAIM  (with ARBITER) a primary that loses its secondary answers
 *                alone only after the arbiter granted it a new epoch.
 *   TIMELY       timeouts are exact: a session ends only when the peer
 *                crashed, gave the session up or the MSL was cut (without
 *                it, a slow peer looks dead: a session may end any time).
 *   SYNC_MARK    a secondary may take over only after the primary said it
 *                is mirrored (a marker sent after the image's ack), not as
 *                soon as it restored the image.
 * Properties (each an assert, enabled by its switch):
 *   PROP_EPOCH   (a) never two servers answering clients in one epoch.
 *   PROP_ONE     never two servers answering clients at once, in any
 *                epochs (without an arbiter a full partition breaks it:
 *                the documented window).
 *   PROP_MIRROR  (b) every event acknowledged while mirrored is in the
 *                engine of every server that answers clients.
 *   PROP_ALL     every acknowledged event, also those acknowledged by a
 *                primary alone or syncing, is in the engine of every
 *                server that answers clients.
 */

#ifndef NEV
#define NEV 2          /* client events, each a bit of an engine mask */
#endif
#ifndef MAXCRASH
#define MAXCRASH 2     /* crashes of either server, in all */
#endif
#ifndef MAXCUT
#define MAXCUT 2       /* MSL cuts */
#endif
#ifndef MAXPART
#define MAXPART 2      /* LAN partitions (LOSSY only) */
#endif
#ifndef EMAX
#define EMAX 4         /* epochs beyond this are not explored */
#endif
#define QN 4           /* MSL messages in flight each way */

mtype = { IMG, EV, ACK, MARK };

/* roles: as mirror.Role, with DOWN for a crashed server */
#define DOWN  0
#define SEC   1
#define PRI   2
#define DEACT 3
/* the primary's view of its peer: mirror.PeerState */
#define NONE     0
#define SYNCING  1
#define MIRRORED 2

byte role[2];
byte epoch[2];
bool synced[2];   /* holds a complete image: may take over */
bool imaged[2];   /* restored an image (SYNC_MARK: not yet allowed to take over) */
byte eng[2];      /* the engine: a bit per event applied */
byte peer[2];     /* the primary's view of the MSL peer */
bool sess[2];     /* holds an MSL session */
byte pend[2];     /* replies held until the secondary acknowledges */
bool needClaim[2];/* ALONE_CLAIM: lost its secondary, no new grant yet */

byte nev;         /* events ordered so far */
byte acked;       /* events acknowledged to a client */
byte ackedM;      /* ... of them, acknowledged while mirrored */

bool mslok = 1;   /* the MSL can connect */
bool lanok = 1;   /* the servers reach each other on the LAN */
byte crashes, cuts, parts;

byte arbE;        /* the arbiter's last granted epoch */
byte arbH;        /* and the server it granted it to */

chan msl[2] = [QN] of { mtype, byte };  /* msl[i]: the stream to server i */

#ifdef ARBITER
#ifdef ALONE_CLAIM
#define answering(i) (role[i] == PRI && arbE == epoch[i] && arbH == i && !needClaim[i])
#else
#define answering(i) (role[i] == PRI && arbE == epoch[i] && arbH == i)
#endif
#else
#define answering(i) (role[i] == PRI)
#endif

inline check() {
#ifdef PROP_EPOCH
	assert(!(answering(0) && answering(1) && epoch[0] == epoch[1]));
#endif
#ifdef PROP_ONE
	assert(!(answering(0) && answering(1)));
#endif
#ifdef PROP_MIRROR
	assert(!answering(0) || (ackedM & eng[0]) == ackedM);
	assert(!answering(1) || (ackedM & eng[1]) == ackedM);
#endif
#ifdef PROP_ALL
	assert(!answering(0) || (acked & eng[0]) == acked);
	assert(!answering(1) || (acked & eng[1]) == acked);
#endif
	skip
}

inline clearq(i) {
	do
	:: nempty(msl[i]) -> msl[i]?_,_
	:: empty(msl[i]) -> break
	od
}

/* dropSession: server i gives up its MSL session (timeout, read error,
 * full queue): loop.mslLost. What was in flight to it is lost; what it
 * sent may still reach the peer, which gives up in its own time. */
inline dropSession(i) {
	sess[i] = 0;
	clearq(i);
	if
	:: role[i] == PRI ->
#ifdef ALONE_CLAIM
		/* Only a secondary that got our marker in this epoch can take
		 * over in it: losing one still syncing leaves the grant good
		 * (loop.mslLost: granted == epoch && peer != PeerMirrored). */
		if
		:: peer[i] == MIRRORED -> needClaim[i] = 1
		:: else -> skip
		fi;
#endif
		peer[i] = NONE;
		/* loop.release(all): the primary goes on alone */
		if
		:: answering(i) -> acked = acked | pend[i]; pend[i] = 0
		:: else -> skip
		fi
	:: else -> skip
	fi
}

/* send: server i writes to its peer's stream, if the peer still holds
 * the session; a full queue fails the session (session.send false). */
inline send(i, t, v) {
	if
	:: sess[1-i] && nfull(msl[1-i]) -> msl[1-i]!t,v
	:: sess[1-i] && full(msl[1-i]) -> dropSession(i)
	:: !sess[1-i] -> skip
	fi
}

/* stepDown: loop.stepDown: a primary that met a newer (or winning) peer
 * becomes a secondary without an image; held replies are never sent. */
inline stepDown(i) {
	role[i] = SEC;
	synced[i] = 0;
	imaged[i] = 0;
	peer[i] = NONE;
	pend[i] = 0;
	needClaim[i] = 0;
	if
	:: sess[i] -> dropSession(i)
	:: else -> skip
	fi
}

/* crash: everything volatile is lost; nothing is persisted. */
inline crash(i) {
	role[i] = DOWN;
	sess[i] = 0;
	clearq(i);
	epoch[i] = 0;
	synced[i] = 0;
	imaged[i] = 0;
	eng[i] = 0;
	peer[i] = NONE;
	pend[i] = 0;
	needClaim[i] = 0;
	crashes++
}

/* join: loop.newConn on both ends: secondary s follows primary p. */
inline join(p, s) {
	/* replies held from before are released first (loop.mslLost did) */
	if
	:: answering(p) -> acked = acked | pend[p]
	:: else -> skip
	fi;
	pend[p] = 0;
	clearq(0);
	clearq(1);
	sess[p] = 1;
	sess[s] = 1;
	role[s] = SEC;
	epoch[s] = epoch[p];
	synced[s] = 0;
	imaged[s] = 0;
	peer[s] = NONE;
	peer[p] = SYNCING;
	msl[s]!IMG,eng[p]
}

/* meet: an MSL connection between i and j = 1-i, either dialing (a
 * joining secondary dials, and so does a primary running alone). */
inline meet(i) {
	if
	:: role[i] == PRI && role[1-i] == PRI ->
		/* two primaries: the higher epoch wins, a tie goes to server 0 */
		if
		:: epoch[i] > epoch[1-i] || epoch[i] == epoch[1-i] && i == 0 -> stepDown(1-i)
		:: else -> stepDown(i)
		fi
	:: role[i] == PRI && (role[1-i] == SEC || role[1-i] == DEACT) ->
		if
		:: epoch[1-i] <= epoch[i] -> join(i, 1-i)
		/* a joiner never follows an older primary; the primary steps down */
		:: else -> stepDown(i)
		fi
	fi
}

/* grant: the arbiter grants epoch e at most once, and only the epoch
 * after the newest it granted: a server asks for its own epoch plus one,
 * so a server that missed a grant (it held an older epoch's state) is
 * refused. A grant whose reply is lost is wasted, never granted again. */
#define grantable(e) (arbE + 1 == (e))

inline takeover(j) {
#ifdef ARBITER
	if
	:: grantable(epoch[j] + 1) ->
		arbE = epoch[j] + 1;
		arbH = j;
		if
		:: epoch[j] = epoch[j] + 1; role[j] = PRI; peer[j] = NONE; pend[j] = 0
		:: skip /* the grant's reply is lost: the grant is held by no one */
		fi
	:: else -> skip /* refused: another server holds the epoch */
	fi
#else
	epoch[j] = epoch[j] + 1;
	role[j] = PRI;
	peer[j] = NONE;
	pend[j] = 0
#endif
}

inline server(i) {
	if
	/* a client's request: loop.request */
	:: answering(i) && nev < NEV ->
		eng[i] = eng[i] | (1 << nev);
		if
		:: peer[i] == MIRRORED -> pend[i] = pend[i] | (1 << nev)
		:: else -> acked = acked | (1 << nev) /* alone or syncing: at once */
		fi;
		if
		:: sess[i] && peer[i] != NONE -> send(i, EV, 1 << nev)
		:: else -> skip
		fi;
		nev++

	/* the MSL delivers to server i: loop.frame */
	:: sess[i] && nempty(msl[i]) ->
		msl[i]?t,v;
		if
		:: t == IMG -> /* loop.imageChunk */
			eng[i] = v;
			imaged[i] = 1;
#ifndef SYNC_MARK
			synced[i] = 1;
#endif
			send(i, ACK, eng[i])
		:: t == EV -> /* loop.events */
			eng[i] = eng[i] | v;
			send(i, ACK, eng[i])
		:: t == MARK ->
			synced[i] = imaged[i]
		:: t == ACK -> /* loop.ack */
			if
			:: answering(i) -> acked = acked | (pend[i] & v); ackedM = ackedM | (pend[i] & v)
			:: else -> skip
			fi;
			pend[i] = pend[i] & ~v;
			if
			:: peer[i] == SYNCING ->
				peer[i] = MIRRORED;
#ifdef SYNC_MARK
				send(i, MARK, 0)
#else
				skip
#endif
			:: else -> skip
			fi
		fi;
		t = 0;
		v = 0

	/* the session ends here: silence past MSLTimeout, an error */
#ifdef TIMELY
	:: sess[i] && (role[1-i] == DOWN || !sess[1-i] || !mslok) -> dropSession(i)
#else
	:: sess[i] -> dropSession(i)
#endif

	/* a primary alone releases held replies when it may answer */
	:: role[i] == PRI && peer[i] == NONE && pend[i] != 0 && answering(i) ->
		acked = acked | pend[i];
		pend[i] = 0

#ifdef ALONE_CLAIM
	/* a primary alone asks the arbiter for a new epoch */
	:: role[i] == PRI && needClaim[i] && epoch[i] < EMAX && grantable(epoch[i] + 1) ->
		arbE = epoch[i] + 1;
		arbH = i;
		if
		:: epoch[i] = epoch[i] + 1; needClaim[i] = 0
		:: skip
		fi
#endif

	/* MSL silent: probe the primary on the LAN: loop.startProbe, loop.probed */
	:: role[i] == SEC && synced[i] && !sess[i] && epoch[i] < EMAX ->
		if
		:: role[1-i] != DOWN && lanok -> role[i] = DEACT
#ifdef LOSSY
		:: role[1-i] != DOWN && lanok -> takeover(i) /* the probe was lost */
#endif
		:: role[1-i] == DOWN || !lanok -> takeover(i)
		fi

	/* an MSL connection: loop.newConn (either may dial) */
	:: mslok && role[1-i] != DOWN && !sess[0] && !sess[1] && role[i] == PRI ->
		meet(i)

	:: role[i] != DOWN && crashes < MAXCRASH -> crash(i)
	/* a restarted server starts as a secondary with nothing */
	:: role[i] == DOWN -> role[i] = SEC
	fi
}

active proctype world() {
	mtype t;   /* the message being received, reset after each */
	byte v;
	/* server 0 starts primary in epoch 1 (loop.start), with its grant */
	role[0] = PRI;
	epoch[0] = 1;
	role[1] = SEC;
	arbE = 1;
	arbH = 0;
	do
	:: atomic { server(0); check() }
	:: atomic { server(1); check() }
	:: atomic { (cuts < MAXCUT || !mslok) -> mslok = !mslok; cuts = cuts + !mslok }
#ifdef LOSSY
	:: atomic { (parts < MAXPART || !lanok) -> lanok = !lanok; parts = parts + !lanok }
#endif
	od
}
