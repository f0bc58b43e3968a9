-- Record ids in creation order within a millisecond too, before PostgreSQL 18.
--
-- 0009's fallback for servers without uuidv7() put only the millisecond in front of
-- random bits, so the records a statement made in the same millisecond (an import
-- makes a hundred or more) sorted among themselves at random: an export in creation
-- order (created_at, id; created_at is the transaction's start) came out in another
-- order on PostgreSQL 15 than on 18. The 12 bits after the version now carry the
-- fraction of the millisecond (RFC 9562's method 3, from clock_timestamp()'s
-- microseconds), as uuidv7() does; ids made in the same microsecond remain unordered.
DO $$
BEGIN
    IF current_setting('server_version_num')::integer < 180000 THEN
        CREATE OR REPLACE FUNCTION crmferry_new_id() RETURNS uuid
        LANGUAGE sql VOLATILE PARALLEL SAFE AS $f$
            SELECT encode(
                overlay(uuid_send(gen_random_uuid())
                        PLACING substring(int8send(t.ms) FROM 3)
                                || int2send(((7 << 12) | (t.us * 4096 / 1000))::smallint)
                        FROM 1 FOR 8),
                'hex')::uuid
              FROM (SELECT floor(e * 1000)::bigint AS ms,
                           (floor(e * 1000000)::bigint % 1000)::integer AS us
                      FROM (SELECT extract(epoch FROM clock_timestamp()) AS e) AS c) AS t
        $f$;
    END IF;
END
$$;
