// Unicode tables for Rust's `{:?}` of a str (`char::escape_debug`), which escapes
// Grapheme_Extend characters and characters `core::unicode::printable` calls
// unprintable (general categories Cc, Cf, Co, Cn, Zl, Zp, Zs but the space).
// The engine componentize-js builds has no \p{…} regular expressions, hence
// these tables: generated with node 20.20.2 (ICU 78.2,
// Unicode 17.0) from /\p{Grapheme_Extend}/u and
// /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u. Rust 1.95's tables come from
// its own Unicode version; code points assigned in between may differ.
// Each string is inclusive ranges "start,end,start,end,…" in base 36.

const GRAPHEME_EXTEND =
  "lc,of,w3,w9,13l,14t,14v,14v,14x,14y,150,151,153,153,174,17e,18r,19b,19s,19s,1cm,1cs,1cv,1d0,1d3,1d4,1d6,1d9," +
  "1e9,1e9,1f4,1fu,1ie,1io,1kb,1kj,1kt,1kt,1li,1ll,1ln,1lv,1lx,1lz,1m1,1m5,1nd,1nf,1p3,1pb,1qi,1r5,1r7,1s2,1tm," +
  "1tm,1to,1to,1tt,1u0,1u5,1u5,1u9,1uf,1uq,1ur,1vl,1vl,1x8,1x8,1xa,1xa,1xd,1xg,1xp,1xp,1xz,1xz,1ya,1yb,1z2,1z2," +
  "1z5,1z6,20s,20s,20x,20y,213,214,217,219,21d,21d,228,229,22d,22d,22p,22q,24c,24c,24h,24l,24n,24o,24t,24t,25e," +
  "25f,262,267,269,269,27w,27w,27y,27z,281,284,28d,28d,28l,28n,28y,28z,29u,29u,2bi,2bi,2bk,2bk,2bx,2bx,2c7,2c7," +
  "2dc,2dc,2dg,2dg,2f0,2f0,2f2,2f4,2fa,2fc,2fe,2fh,2fp,2fq,2g2,2g3,2gx,2gx,2ik,2ik,2in,2io,2iq,2iq,2iu,2iw,2iy," +
  "2j1,2j9,2ja,2jm,2jn,2kg,2kh,2m3,2m4,2m6,2m6,2m9,2mc,2ml,2ml,2mv,2mv,2n6,2n7,2o1,2o1,2q2,2q2,2q7,2q7,2qa,2qc," +
  "2qe,2qe,2qn,2qn,2sx,2sx,2t0,2t6,2tj,2tq,2wh,2wh,2wk,2ws,2x4,2xa,2zc,2zd,305,305,307,307,309,309,31t,326,328," +
  "32c,32e,32f,32l,32v,32x,33w,346,346,371,374,376,37b,37d,37e,37h,37i,388,389,38e,38g,38x,390,39e,39e,39h,39i," +
  "39p,39p,3a5,3a5,3tp,3tr,4k2,4k5,4ky,4l0,4lu,4lv,4mq,4mr,4ok,4ol,4on,4ot,4p2,4p2,4p5,4pf,4pp,4pp,4qz,4r1,4r3," +
  "4r3,4ud,4ue,4vd,4vd,4yo,4yq,4yv,4yw,4z6,4z6,4zd,4zf,55j,55k,55n,55n,57a,57a,57c,57i,57k,57k,57m,57m,57p,57w," +
  "583,58c,58f,58f,59s,5b1,5b4,5bf,5c0,5c3,5dg,5dp,5du,5dw,5ez,5f7,5fk,5fl,5gi,5gl,5go,5gt,5ie,5ie,5ig,5ih,5il," +
  "5il,5in,5ir,5kc,5kj,5km,5kn,5ow,5oy,5p0,5pc,5pe,5pk,5pp,5pp,5pw,5pw,5q0,5q1,5vk,5xb,6bw,6bw,6hc,6i8,8vj,8vl," +
  "8zj,8zj,928,933,9ii,9in,9ll,9lm,wvj,wvm,wvo,wvx,wwu,wwv,wz4,wz5,x6q,x6q,x6u,x6u,x6z,x6z,x7p,x7q,x7w,x7w,xc4," +
  "xc5,xcw,xdd,xdr,xdr,xeu,xf1,xfr,xg1,xg3,xg3,xhc,xhe,xir,xir,xiu,xix,xj0,xj1,xj4,xj4,xk5,xk5,xm1,xm6,xm9,xma," +
  "xmd,xme,xmr,xmr,xn0,xn0,xoc,xoc,xps,xps,xpu,xpw,xpz,xq0,xq6,xq7,xq9,xq9,xrg,xrh,xrq,xrq,xyd,xyd,xyg,xyg,xyl," +
  "xyl,1dlq,1dlq,1e68,1e6n,1e74,1e7j,1ehq,1ehr,1eyl,1eyl,1f4w,1f4w,1f92,1f96,1gjl,1gjn,1gjp,1gjq,1gjw,1gjz,1gl4," +
  "1gl6,1glb,1glb,1gpx,1gpy,1h5w,1h5z,1h7t,1h7x,1hgr,1hgs,1hiy,1hj3,1hl2,1hlc,1hmq,1hmt,1hq9,1hq9,1hrs,1hs6,1htc," +
  "1htc,1htf,1htg,1htr,1htt,1hv7,1hva,1hvd,1hve,1hvm,1hvm,1hxc,1hxe,1hyf,1hyj,1hyl,1hys,1i0j,1i0j,1i0w,1i0x,1i2e," +
  "1i2m,1i2o,1i2o,1i2x,1i30,1i33,1i33,1i5r,1i5t,1i5w,1i5z,1i66,1i66,1i69,1i69,1ian,1ian,1iar,1iay,1ibk,1ibl,1id7," +
  "1id8,1ida,1ida,1idc,1idc,1idp,1idp,1idz,1idz,1iee,1iek,1ieo,1ies,1igo,1igo,1igr,1igw,1igy,1igy,1ih1,1ih1,1ih3," +
  "1ih5,1iha,1ihc,1ihe,1ihe,1iht,1ihu,1ik8,1ikf,1iki,1ikk,1ikm,1ikm,1ila,1ila,1ink,1ink,1inn,1ins,1inu,1inu,1inx," +
  "1inx,1inz,1io0,1io2,1io3,1iun,1iun,1iuq,1iut,1iv0,1iv1,1iv3,1iv4,1ivw,1ivx,1iyb,1iyi,1iyl,1iyl,1iyn,1iyo,1j1n," +
  "1j1n,1j1p,1j1p,1j1s,1j1z,1j4t,1j4t,1j4v,1j4v,1j4y,1j51,1j53,1j57,1jcf,1jcn,1jcp,1jcq,1jjk,1jjk,1jjv,1jjy,1jk3," +
  "1jk3,1jo4,1jo7,1joa,1job,1jog,1jog,1jpd,1jpm,1jqr,1jqw,1jqz,1jr2,1jrb,1jrb,1jrl,1jrq,1jrt,1jrv,1jt6,1jti,1jtk," +
  "1jtl,1jz4,1jz4,1jz6,1jz8,1jza,1jza,1k4w,1k52,1k54,1k59,1k5b,1k5b,1k7m,1k87,1k8a,1k8g,1k8i,1k8j,1k8l,1k8m,1kc1," +
  "1kc6,1kca,1kca,1kcc,1kcd,1kcf,1kcl,1kcn,1kcn,1keo,1kep,1ket,1ket,1kev,1kev,1koj,1kok,1kow,1kox,1kqe,1kqi,1kqo," +
  "1kqq,1kre,1kre,1ow0,1ow0,1ow7,1owl,1xr2,1xrd,1xrh,1xrj,1zow,1zp0,1zqo,1zqu,20jz,20jz,20lr,20lu,20o4,20o4,20og," +
  "20oh,2ftp,2ftq,2jgg,2jhp,2jhs,2jie,2jxh,2jxl,2jxp,2jxu,2jy3,2jya,2jyd,2jyj,2jze,2jzh,2k3m,2k3o,2lmo,2lo6,2lob," +
  "2lpo,2lpx,2lpx,2lqc,2lqc,2lqz,2lr3,2lr5,2lrj,2mtc,2mti,2mtk,2mu0,2mu3,2mu9,2mub,2muc,2mue,2mui,2mxb,2mxb,2n1s," +
  "2n1y,2nce,2nce,2ne4,2ne7,2nsc,2nsf,2nzi,2nzj,2o6b,2o6b,2o6e,2o6e,2o6m,2o6n,2o6t,2o6t,2ok0,2ok6,2on8,2one,jnz4," +
  "jo1r,jo5c,jobz";

const UNPRINTABLE =
  "0,w,3j,4g,4t,4t,oo,op,ow,oz,p7,p7,p9,p9,pu,pu,10w,10w,11z,120,13f,13g,13k,13k,154,15b,163,166,16d,16t,17g,17g," +
  "1ct,1ct,1e6,1e7,1fv,1fw,1iq,1j3,1kr,1ks,1m6,1m7,1mn,1mn,1ng,1nh,1nj,1nj,1nv,1nz,1ow,1p2,1r6,1r6,1vo,1vo,1vx," +
  "1vy,1w1,1w2,1wp,1wp,1wx,1wx,1wz,1x1,1x6,1x7,1xh,1xi,1xl,1xm,1xr,1xy,1y0,1y3,1y6,1y6,1yc,1yd,1z3,1z4,1z8,1z8," +
  "1zf,1zi,1zl,1zm,209,209,20h,20h,20k,20k,20n,20n,20q,20r,20t,20t,20z,212,215,216,21a,21c,21e,21k,21p,21p,21r," +
  "21x,22f,22o,22s,22s,232,232,236,236,23t,23t,241,241,244,244,24a,24b,24m,24m,24q,24q,24u,24v,24x,25b,25g,25h," +
  "25u,260,268,268,26c,26c,26l,26m,26p,26q,27d,27d,27l,27l,27o,27o,27u,27v,285,286,289,28a,28e,28k,28o,28r,28u," +
  "28u,290,291,29k,29t,29w,29w,2a3,2a5,2a9,2a9,2ae,2ag,2aj,2aj,2al,2al,2ao,2aq,2at,2av,2az,2b1,2be,2bh,2bn,2bp," +
  "2bt,2bt,2by,2bz,2c1,2c6,2c8,2cl,2d7,2db,2dp,2dp,2dt,2dt,2eh,2eh,2ey,2ez,2f9,2f9,2fd,2fd,2fi,2fo,2fr,2fr,2fv," +
  "2fv,2fy,2fz,2g4,2g5,2gg,2gm,2h9,2h9,2hd,2hd,2i1,2i1,2ic,2ic,2ii,2ij,2it,2it,2ix,2ix,2j2,2j8,2jb,2jf,2jj,2jj," +
  "2jo,2jp,2k0,2k0,2k4,2kf,2kt,2kt,2kx,2kx,2md,2md,2mh,2mh,2mo,2mr,2n8,2n9,2o0,2o0,2o4,2o4,2on,2op,2pe,2pe,2po," +
  "2po,2pq,2pr,2pz,2q1,2q3,2q6,2qd,2qd,2qf,2qf,2qo,2qt,2r4,2r5,2r9,2rk,2t7,2ta,2u4,2v4,2v7,2v7,2v9,2v9,2vf,2vf," +
  "2w4,2w4,2w6,2w6,2wu,2wv,2x1,2x1,2x3,2x3,2xb,2xb,2xm,2xn,2xs,2yn,30o,30o,31p,31s,32w,32w,33x,33x,34d,34d,34r," +
  "35r,3ba,3ba,3bc,3bg,3bi,3bj,3m1,3m1,3m6,3m7,3mf,3mf,3mh,3mh,3mm,3mn,3nt,3nt,3ny,3nz,3ox,3ox,3p2,3p3,3pb,3pb," +
  "3pd,3pd,3pi,3pj,3pz,3pz,3rl,3rl,3rq,3rr,3tn,3to,3ul,3un,3ve,3vj,3xy,3xz,3y6,3y7,4g0,4g0,4gt,4gv,4jd,4jj,4k6," +
  "4ke,4l3,4lb,4lw,4m7,4ml,4ml,4mp,4mp,4ms,4n3,4pq,4pr,4q2,4q7,4qi,4qn,4r2,4r2,4re,4rj,4u1,4u7,4vf,4vj,4xi,4xr," +
  "4yn,4yn,4z0,4z3,4zg,4zj,4zl,4zn,50u,50v,511,51b,52k,52n,53e,53j,53v,53x,55o,55p,57j,57j,58d,58e,58q,58v,596," +
  "59b,59q,59r,5b2,5b3,5bg,5bz,5e5,5e5,5is,5iz,5ko,5kq,5l6,5l8,5mz,5n3,5ob,5oc,5oo,5ov,5q3,5q7,652,653,65a,65b," +
  "66e,66f,66m,66n,66w,66w,66y,66y,670,670,672,672,67y,67z,69h,69h,69x,69x,6ac,6ad,6ak,6ak,6b4,6b5,6b9,6b9,6bj," +
  "6bz,6co,6cv,6e7,6en,6eq,6er,6fj,6fj,6fx,6fz,6gy,6hb,6i9,6in,6mk,6mn,756,75r,763,76n,8l0,8l1,8vo,8vs,8x2,8x2," +
  "8x4,8x8,8xa,8xb,8yw,8z2,8z5,8zi,907,90f,90n,90n,90v,90v,913,913,91b,91b,91j,91j,91r,91r,91z,91z,927,927,95q," +
  "96n,97e,97e,99w,9a7,9g6,9gv,9hc,9hc,9j4,9j4,9lj,9lk,9og,9ok,9ps,9ps,9sf,9sf,9uu,9v2,9wf,9wf,wi5,wi7,wjr,wjz," +
  "wto,wu7,wzc,wzj,x5p,x68,x7x,x7z,x8a,x8f,xa0,xa7,xc6,xcd,xcq,xcv,xg4,xge,xh9,xhb,xji,xji,xju,xjx,xkv,xkv,xmf," +
  "xmn,xn2,xn3,xne,xnf,xqb,xqy,xrr,xs0,xs7,xs8,xsf,xsg,xsn,xsv,xt3,xt3,xtb,xtb,xv0,xv3,xym,xyn,xyy,xz3,16lg,16lr," +
  "16mf,16mi,16nw,16nz,188w,1d6n,1dgu,1dgv,1dju,1dkv,1dl3,1dle,1dlk,1dlo,1dmf,1dmf,1dml,1dml,1dmn,1dmn,1dmq,1dmq," +
  "1dmt,1dmt,1e4w,1e5r,1e6y,1e73,1e8j,1e8j,1e93,1e93,1e98,1e9b,1e9h,1e9h,1ed9,1edc,1ein,1eip,1eiw,1eix,1ej4,1ej5," +
  "1ejc,1ejd,1ejh,1ejj,1ejr,1ejr,1ejz,1ekb,1eke,1ekf,1eks,1eks,1elj,1elj,1em3,1em3,1em6,1em6,1emm,1emn,1en2,1enz," +
  "1erf,1erj,1ern,1erq,1et0,1et2,1evj,1evj,1evx,1evz,1ew1,1exb,1eym,1f27,1f31,1f33,1f4h,1f4v,1f5o,1f5r,1f6s,1f70," +
  "1f7v,1f7z,1f97,1f9b,1fa6,1fa6,1fb8,1fbb,1fbq,1fcv,1fha,1fhb,1fhm,1fhr,1fis,1fiv,1fjw,1fjz,1fl4,1flb,1fms,1fn2," +
  "1fnf,1fnf,1fnv,1fnv,1fo3,1fo3,1fo6,1fo6,1foi,1foi,1foy,1foy,1fp6,1fp6,1fp9,1fpb,1fqs,1fr3,1fzr,1fzz,1g0m,1g0v," +
  "1g14,1g1r,1g1y,1g1y,1g35,1g35,1g3f,1g5b,1g5i,1g5j,1g5l,1g5l,1g6u,1g6u,1g6x,1g6z,1g71,1g72,1g7q,1g7q,1g9r,1g9y," +
  "1ga8,1gbj,1gc3,1gc3,1gc6,1gca,1gd8,1gda,1ge2,1ge6,1gey,1gfz,1ghk,1ghn,1gi8,1gi9,1gjo,1gjo,1gjr,1gjv,1gk4,1gk4," +
  "1gk8,1gk8,1gl2,1gl3,1gl7,1gla,1gll,1glr,1gm1,1gm7,1go0,1gov,1gpz,1gq2,1gqf,1gqn,1gs6,1gs8,1gt2,1gt3,1gtv,1gtz," +
  "1guq,1guw,1gv1,1gvc,1gvk,1gxr,1gzt,1h1b,1h2r,1h33,1h4j,1h4p,1h60,1h67,1h6i,1h6n,1h7q,1h7s,1h8m,1h8t,1h8w,1hen," +
  "1hfj,1hfj,1hgq,1hgq,1hgu,1hgv,1hgy,1hhd,1hhk,1hhr,1hi1,1hix,1hk8,1hkf,1hlm,1hm7,1hmy,1hnz,1hos,1hpb,1hpz,1hq7," +
  "1hse,1hsh,1hti,1htq,1hvh,1hvh,1hvn,1hvz,1hwp,1hwv,1hx6,1hxb,1hyt,1hyt,1hzc,1hzj,1i0n,1i0v,1i3k,1i3k,1i45,1i4f," +
  "1i4y,1i4y,1i6a,1i7z,1i87,1i87,1i89,1i89,1i8e,1i8e,1i8u,1i8u,1i96,1i9b,1iaz,1ib3,1ibe,1ibj,1ibo,1ibo,1ibx,1iby," +
  "1ic1,1ic2,1icp,1icp,1icx,1icx,1id0,1id0,1id6,1id6,1idh,1idi,1idl,1idm,1idq,1idr,1idt,1idy,1ie0,1ie4,1iec,1ied," +
  "1iel,1ien,1iet,1if3,1ife,1ife,1ifg,1ifh,1ifj,1ifj,1igm,1igm,1igx,1igx,1igz,1ih0,1ih2,1ih2,1ih7,1ih7,1ihi,1ihi," +
  "1ihl,1ihs,1ihv,1iin,1il8,1il8,1ile,1im7,1io8,1iof,1ioq,1itb,1iuu,1iuv,1ivy,1iwv,1iyt,1iz3,1ize,1izj,1izx,1j0f," +
  "1j22,1j27,1j2i,1j2n,1j38,1j3z,1j4r,1j4s,1j58,1j5b,1j5z,1jb3,1jcs,1jfj,1jhv,1ji6,1jif,1jig,1jii,1jij,1jis,1jis," +
  "1jiv,1jiv,1jjq,1jjq,1jjt,1jju,1jk7,1jkf,1jkq,1jmn,1jmw,1jmx,1jo8,1jo9,1jol,1jpb,1jrc,1jrj,1jtv,1ju7,1jw9,1jwf," +
  "1jwq,1jz3,1jzc,1k1r,1k2q,1k33,1k3e,1k3j,1k3t,1k3t,1k53,1k53,1k5i,1k5r,1k6l,1k6n,1k7k,1k7l,1k88,1k88,1k8n,1kan," +
  "1kav,1kav,1kay,1kay,1kc7,1kc9,1kcb,1kcb,1kce,1kce,1kco,1kcv,1kd6,1kdb,1kdi,1kdi,1kdl,1kdl,1ken,1ken,1keq,1keq," +
  "1kex,1kf3,1kfe,1kfj,1kgs,1kgv,1kh6,1knz,1kop,1kov,1kpd,1kpd,1kqj,1kql,1krf,1ktr,1ktt,1ku7,1kvm,1kvy,1llm,1lof," +
  "1lrj,1lrj,1lrp,1lrz,1lxg,1nyn,1o1f,1o1r,1ovk,1ovz,1owm,1owv,1rzv,1rzz,1sg7,1xq7,1xru,1z3z,1zjt,1zjz,1zkv,1zkv," +
  "1zl6,1zl9,1znj,1znj,1znu,1znz,1zou,1zov,1zp2,1zpb,1zra,1zrj,1zru,1zru,1zs2,1zs2,1zso,1zss,1ztc,205b,206y,20cf," +
  "20ez,20f3,20ft,20fu,20gk,20hr,20jv,20jy,20lk,20lq,20m8,20nz,20o5,20of,20on,20ov,26dy,26f2,26fz,26in,26lv,2dbj," +
  "2dbo,2dbo,2dbw,2dbw,2dbz,2dbz,2dk3,2dkh,2dkj,2dlb,2dlf,2dlg,2dli,2dlv,2dm0,2dm7,2dx8,2fpb,2fsb,2fsf,2fst,2fsv," +
  "2ft5,2ftb,2ftm,2ftn,2fts,2iv3,2j25,2j27,2jec,2jeh,2jf5,2jfj,2jg1,2jgf,2jhq,2jhr,2jif,2jin,2jlw,2jnj,2jue,2jun," +
  "2jvr,2jvs,2jxv,2jy2,2k17,2k1r,2k3q,2k73,2k7o,2k7z,2k8k,2k8v,2kbb,2kbj,2kc9,2kfz,2kid,2kid,2kkd,2kkd,2kkg,2kkh," +
  "2kkj,2kkk,2kkn,2kko,2kkt,2kkt,2kl6,2kl6,2kl8,2kl8,2klg,2klg,2kna,2kna,2knf,2kng,2knp,2knp,2knx,2knx,2koq,2koq," +
  "2kov,2kov,2kp1,2kp1,2kp3,2kp5,2kpd,2kpd,2kyu,2kyv,2l70,2l71,2lqk,2lqy,2lr4,2lr4,2lrk,2mm7,2mn3,2mn8,2mnf,2mtb," +
  "2mtj,2mtj,2mu1,2mu2,2mua,2mua,2mud,2mud,2muj,2mun,2mwe,2mxa,2mxc,2n0f,2n1p,2n1r,2n26,2n27,2n2i,2n2l,2n2o,2nbj," +
  "2ncf,2ncv,2nei,2nem,2neo,2nrj,2nsq,2nyn,2nzv,2nzy,2o00,2o5b,2o67,2o67,2o6u,2o71,2o74,2odb,2odj,2odj,2odo,2odo," +
  "2odr,2odr,2oe7,2oe7,2ojp,2ojq,2ok7,2olb,2ong,2onj,2onu,2onx,2oo0,2p9s,2pbp,2pds,2pfi,2pkv,2pl0,2pl0,2pls,2pls," +
  "2plv,2plv,2plx,2ply,2pm0,2pm0,2pmb,2pmb,2pmg,2pmg,2pmi,2pmi,2pmk,2pmp,2pmr,2pmu,2pmw,2pmw,2pmy,2pmy,2pn0,2pn0," +
  "2pn4,2pn4,2pn7,2pn7,2pn9,2pna,2pnc,2pnc,2pne,2pne,2png,2png,2pni,2pni,2pnk,2pnk,2pnn,2pnn,2pnp,2pnq,2pnv,2pnv," +
  "2po3,2po3,2po8,2po8,2pod,2pod,2pof,2pof,2poq,2poq,2pp8,2ppc,2ppg,2ppg,2ppm,2ppm,2pq4,2prj,2prm,2pz3,2q0c,2q0f," +
  "2q38,2q3j,2q3z,2q40,2q4g,2q4g,2q4w,2q4w,2q5y,2q67,2qb2,2qcl,2qdf,2qdr,2qf0,2qf3,2qfd,2qfj,2qfm,2qfz,2qg6,2qkf," +
  "2rbt,2rbv,2rcd,2rcf,2rct,2rcv,2riy,2rj3,2rjg,2rjj,2rjl,2rjz,2rkc,2rkf,2rm0,2rm7,2rmi,2rmn,2rns,2rnz,2rou,2rov," +
  "2rp8,2rpb,2rpe,2rpr,2rq1,2rr3,2s0o,2s0v,2s1a,2s1b,2s1p,2s1r,2s23,2s25,2s3r,2s3r,2s3t,2s3w,2s4d,2s4e,2s4r,2s4u," +
  "2s55,2s5b,2s9f,2s9f,2scb,2t4v,3q3k,3q4f,3ti6,3ti7,3xym,3xyn,43q9,43qn,447y,464f,46ji,47pb,4bij,4bin,4i2i,jo5b," +
  "joc0,nvnj";

function decode(s: string): number[] {
  return s.split(",").map((x) => parseInt(x, 36));
}

function inRanges(ranges: number[], c: number): boolean {
  let lo = 0;
  let hi = ranges.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (c < ranges[2 * mid]!) hi = mid - 1;
    else if (c > ranges[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

let gext: number[] | null = null;
let unprintable: number[] | null = null;

export function isGraphemeExtend(c: number): boolean {
  gext ??= decode(GRAPHEME_EXTEND);
  return inRanges(gext, c);
}

/** `core::unicode::printable::is_printable`. */
export function isPrintable(c: number): boolean {
  if (c === 0x20) return true;
  unprintable ??= decode(UNPRINTABLE);
  return !inRanges(unprintable, c);
}
